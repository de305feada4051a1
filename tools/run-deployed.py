#!/usr/bin/env python3
"""Run an exported PersEPhonEE early-exit module (export-torchscript) on image files, as the phone would.

    run-deployed.py DIR IMAGE... [--final-only | --final-alone] [--lite] [--json] [--repeats N] [--cpu K]

DIR holds deploy.json, model.pt and model.ptl. Each image is decoded and preprocessed as the Java side's
ImageDecoder does (see decode below), then run at batch 1 on one thread: forward(x) -> (label index,
confidence, exit index; len(exits) = the final exit). Prints per image the file, label, confidence, the exit
taken (its stage name, or "final") and the median milliseconds of --repeats timed calls after one warm-up.

--final-only   every threshold set above 1 (the module's `thresholds` attribute, reassigned from Python), so
               each image leaves at the final exit; the exit heads are still evaluated (and ignored) on the way.
--final-alone  the stages and the final exit only (with the heads it is averaged with, if any), no early exits.
--lite         the lite-interpreter module (model.ptl). With --final-only / --final-alone the variant is
               built from model.pt and saved for the lite interpreter to a temporary file (same graph, since
               export-torchscript does not run optimize_for_mobile), as a loaded .ptl has no attributes to set.
--cpu K        pin to CPU K first (timings on this 2-core VM vary 2x unpinned, are steady pinned).
--json         a JSON list of {"file", "label", "label_index", "confidence", "exit", "exit_index", "ms"}.

Resize rule: deploy.json "input" "resize" ("pad" | "center-crop") and "resize_to" when present; otherwise the
source bundle's backbone/backbone.json (deploy.json "provenance" "bundle"), then the backbone folder
("provenance" "backbone_dir", relative to the project) "input" "resize" / "resizeTo"; "pad" when none says.
Errors: one line on stderr naming the file and the problem, exit status 1 (PERSEPHONEE_DEBUG=1: traceback).
Use /usr/bin/python3 (torch, numpy, PIL).
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SUBSAMPLE_ABOVE_PIXELS = 16_000_000  # ImageDecoder.SUBSAMPLE_ABOVE_PIXELS
DEFAULT_MAX_PIXELS = 100_000_000  # ImageDecoder.DEFAULT_MAX_PIXELS


class RunError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"run-deployed: {message} (see --help)", file=sys.stderr)
        sys.exit(1)


def resize_axis(src, n, axis):
    """ImageDecoder.resizeAxis: one axis of a float32 plane to n samples, in Java's order of operations
    (double sums of overlap x sample, then / ratio, when shrinking; (1 - t) a + t b when enlarging)."""
    length = src.shape[axis]
    if n == length:
        return src.copy()
    s = np.moveaxis(src, axis, 0).astype(np.float64)  # each sample as Java's float -> double promotion
    out = np.empty((n,) + s.shape[1:], np.float64)
    ratio = length / n
    for i in range(n):
        if n < length:
            start = i * ratio
            end = start + ratio
            acc = np.zeros(s.shape[1:], np.float64)
            for k in range(math.floor(start), min(length, math.ceil(end))):
                overlap = min(end, k + 1) - max(start, k)
                if overlap > 0:
                    acc = acc + overlap * s[k]
            out[i] = acc / ratio
        else:
            pos = (i + 0.5) * ratio - 0.5
            k0 = math.floor(pos)
            t = pos - k0
            a, b = max(0, min(length - 1, k0)), max(0, min(length - 1, k0 + 1))
            out[i] = (1 - t) * s[a] + t * s[b]
    return np.ascontiguousarray(np.moveaxis(out.astype(np.float32), 0, axis))


def resize(p, nw, nh):
    """ImageDecoder.resize: the width first, then the height (a copy when both already fit)."""
    return resize_axis(resize_axis(p, nw, 1), nh, 0)


def jround(x):  # Java's Math.round
    return int(math.floor(x + 0.5))


def max_pixels():
    v = os.environ.get("PERSEPHONEE_MAX_IMAGE_PIXELS")  # the Java side's -Dpersephonee.maxImagePixels
    try:
        return int(v) if v and int(v) > 0 else DEFAULT_MAX_PIXELS
    except ValueError:
        return DEFAULT_MAX_PIXELS


def read_planes(path, channels):
    """ImageDecoder.read + the first half of toInput: [channels, h, w] float32 in [0, 1], alpha over black.

    Greyscale PNG (8/16 bits, with or without alpha) and greyscale JPEG are read as stored samples (Java's
    greySamples); everything else (colour, palette, 1/2/4-bit grey, which Java reads through an
    IndexColorModel) goes through RGBA bytes (getRGB) and, for 1 channel, Rec. 601 luma in float32."""
    from PIL import Image, UnidentifiedImageError
    p = Path(path)
    if not p.is_file():
        raise RunError(f"{path}: not found")
    if p.stat().st_size == 0:
        raise RunError(f"{path}: empty file")
    try:
        im = Image.open(p)
    except UnidentifiedImageError:
        raise RunError(f"{path}: not an image in a supported format (PNG, JPEG, BMP, GIF, WBMP)")
    except OSError as e:
        raise RunError(f"{path}: cannot be read ({e})")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise RunError(f"{path}: has no pixels")
    cap = max_pixels()
    if w * h > cap:
        raise RunError(f"{path}: too large: {w} x {h} pixels ({w * h / 1e6:.0f} megapixels; the limit is "
                       f"{cap / 1e6:.0f})")
    step = 1
    while (w // step) * (h // step) > SUBSAMPLE_ABOVE_PIXELS:
        step += 1
    try:
        args = im.tile[0][3] if im.tile else None  # the PNG raw mode: "L;2" / "L;4" are 2/4-bit grey
        rawmode = args[0] if isinstance(args, tuple) and args else args if isinstance(args, str) else im.mode
        grey = None
        if im.format == "PNG" and im.mode in ("L", "LA", "I", "I;16", "I;16B") and rawmode not in ("1", "L;2", "L;4"):
            if im.mode == "LA":
                g, a = (np.asarray(im.getchannel(i), np.float64) / 255.0 for i in (0, 1))
                grey = g * a
            else:
                g = np.asarray(im, np.float64)
                grey = g / (65535.0 if im.mode.startswith("I") else 255.0)
                t = im.info.get("transparency")
                if isinstance(t, int):  # tRNS: Java's PNG reader adds an alpha band
                    grey = np.where(g == t, 0.0, grey)
            grey = grey.astype(np.float32)  # (float) (g / max * a / maxA)
        elif im.format in ("JPEG", "BMP") and im.mode == "L":  # Java reads these as TYPE_BYTE_GRAY
            grey = (np.asarray(im, np.float64) / 255.0).astype(np.float32)
        if grey is not None:
            grey = grey[::step, ::step]
            return np.stack([grey] * channels)
        rgba = np.asarray(im.convert("RGBA"))[::step, ::step]
    except RunError:
        raise
    except Exception as e:  # truncated or corrupt data surfaces when the pixels are loaded
        raise RunError(f"{path}: corrupt or unsupported image ({str(e).strip().splitlines()[0] if str(e) else type(e).__name__})")
    v = rgba.astype(np.float32) / np.float32(255)  # ((p >> k) & 0xff) / 255f
    rgb = v[..., :3] * v[..., 3:]  # * a, in float
    if channels == 1:
        return (np.float32(0.299) * rgb[..., 0] + np.float32(0.587) * rgb[..., 1]
                + np.float32(0.114) * rgb[..., 2])[None]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def decode(path, spec, resize):
    """ImageDecoder.decode: planes, fitted by the pad or center-crop rule, then InputSpec.normalise."""
    planes = read_planes(path, spec["channels"])
    th, tw, (h, w) = spec["height"], spec["width"], planes.shape[1:]
    out = np.empty((len(planes), th, tw), np.float32)
    for c, p in enumerate(planes):
        if spec["resize"] == "center-crop":
            sc = spec["resize_to"] / min(w, h)
            sh, sw = max(th, jround(h * sc)), max(tw, jround(w * sc))
            y0, x0 = (sh - th) // 2, (sw - tw) // 2
            out[c] = resize(p, sw, sh)[y0:y0 + th, x0:x0 + tw]
        else:  # fit the whole image, pad with the median of its border
            sc = min(th / h, tw / w)
            sh, sw = max(1, jround(h * sc)), max(1, jround(w * sc))
            if (sh, sw) == (th, tw):
                fill = 0.0
            else:
                border = np.ones_like(p, bool)
                border[1:-1, 1:-1] = False
                b = np.sort(p[border])
                fill = b[len(b) // 2]
            out[c] = fill
            y0, x0 = (th - sh) // 2, (tw - sw) // 2
            out[c, y0:y0 + sh, x0:x0 + sw] = resize(p, sw, sh)
        out[c] = (out[c] - np.float32(spec["mean"][c])) * (np.float32(1) / np.float32(spec["std"][c]))
    return out


def input_spec(deploy_dir, d):
    """deploy.json's input block with "resize" and "resize_to" filled in; and where the resize rule came from."""
    inp = d.get("input")
    try:
        spec = {"channels": int(inp["channels"]), "height": int(inp["height"]), "width": int(inp["width"]),
                "mean": [float(v) for v in inp["mean"]], "std": [float(v) for v in inp["std"]]}
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{deploy_dir}/deploy.json: missing or malformed 'input' field ({e})")
    if spec["channels"] not in (1, 3) or len(spec["mean"]) != spec["channels"] or len(spec["std"]) != spec["channels"]:
        raise RunError(f"{deploy_dir}/deploy.json: input needs 1 or 3 channels and one mean/std per channel")
    source, block = None, None
    if "resize" in inp:
        source, block = "deploy.json", {"resize": inp["resize"], "resizeTo": inp.get("resize_to", inp.get("resizeTo"))}
    else:
        prov = d.get("provenance") or {}
        candidates = []
        if prov.get("bundle"):
            candidates.append(Path(prov["bundle"]) / "backbone" / "backbone.json")
        if prov.get("backbone_dir"):
            bd = Path(prov["backbone_dir"])
            candidates.append((bd if bd.is_absolute() else HERE.parent / bd) / "backbone.json")
        for c in candidates:
            try:
                block = json.loads(c.read_text()).get("input") or {}
                source = str(c)
                break
            except (OSError, ValueError):
                continue
        if block is None:
            block, source = {}, "default (no resize rule in deploy.json and no backbone.json found)"
    r = str(block.get("resize") or "pad").strip().lower().replace("_", "-")
    if r not in ("pad", "center-crop"):
        raise RunError(f"{source}: input 'resize' must be 'pad' or 'center-crop', got {block.get('resize')!r}")
    side = max(spec["height"], spec["width"])
    spec["resize"] = r
    spec["resize_to"] = (int(block.get("resizeTo") or 0) or side) if r == "center-crop" else 0
    return spec, source


def load_module(deploy_dir, lite, variant, torch):
    """The module to run: model.pt / model.ptl as exported, or its final-only / final-alone variant."""
    pt, ptl = deploy_dir / "model.pt", deploy_dir / "model.ptl"
    want = ptl if lite and variant == "cascade" else pt
    if not want.is_file():
        raise RunError(f"{want}: not found (export with ./persephonee export-torchscript)")
    from torch.jit.mobile import _load_for_lite_interpreter
    try:
        if variant == "cascade":
            return _load_for_lite_interpreter(str(want)) if lite else torch.jit.load(str(want), map_location="cpu").eval()
        net = torch.jit.load(str(pt), map_location="cpu").eval()
        if variant == "final-only":
            net.thresholds = [2.0] * len(net.thresholds)  # above any confidence: every image takes the final exit
            mod = net
        else:
            mod = torch.jit.script(final_alone_class(torch)(net)).eval()
        if not lite:
            return mod
        with tempfile.TemporaryDirectory(prefix="run-deployed-") as tmp:
            f = os.path.join(tmp, "variant.ptl")
            mod._save_for_lite_interpreter(f)
            return _load_for_lite_interpreter(f)
    except RunError:
        raise
    except Exception as e:
        raise RunError(f"{want}: cannot load ({str(e).strip().splitlines()[0] if str(e) else type(e).__name__})")


def final_alone_class(torch):
    from typing import List, Tuple
    from torch import Tensor, nn

    class FinalAlone(nn.Module):
        """The exported network without its exit heads: stages, then the final exit (same submodules)."""

        def __init__(self, net):
            super().__init__()
            self.stages = nn.ModuleList(list(net.stages.children()))
            # a final exit averaged with late exits keeps their heads (an export before them has none)
            ens = list(net.stage_ensemble.children()) if hasattr(net, "stage_ensemble") else []
            self.ensemble = nn.ModuleList([nn.ModuleList(list(e.children())) for e in ens] if ens
                                          else [nn.ModuleList() for _ in self.stages])
            self.net = net
            self.n_exits = len(net.thresholds)

        def forward(self, x: Tensor) -> Tuple[int, float, int]:
            members: List[Tensor] = []
            for stage, ensemble in zip(self.stages, self.ensemble):
                x = stage(x)
                for h in ensemble:
                    members.append(torch.softmax(h(x), dim=1))
            p = self.net._final_probs(x)
            for q in members:
                p = p + q
            if len(members) > 0:
                p = p / (len(members) + 1)
            return int(torch.argmax(p, dim=1).item()), self.net._confidence(p), self.n_exits

    return FinalAlone


def main():
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="export folder (deploy.json, model.pt, model.ptl)")
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--final-only", action="store_true", help="every threshold above 1: the final exit's answer")
    g.add_argument("--final-alone", action="store_true", help="stages and final exit only, no exit heads")
    ap.add_argument("--lite", action="store_true", help="run model.ptl in the lite interpreter")
    ap.add_argument("--json", action="store_true", help="print a JSON list")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per image, median reported (default 5)")
    ap.add_argument("--cpu", type=int, help="pin the process to this CPU (as the Java latency bench pins to CPU 0)")
    ap.add_argument("--save-inputs", metavar="FILE.npy",
                    help="also write the decoded images as one float32 [N, C, H, W] .npy (examples/cpp reads it)")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.cpu is not None:
        try:
            os.sched_setaffinity(0, {args.cpu})
        except (OSError, ValueError) as e:
            ap.error(f"--cpu {args.cpu}: cannot pin ({e})")
    deploy_dir = Path(args.dir)
    try:
        d = json.loads((deploy_dir / "deploy.json").read_text())
    except OSError as e:
        raise RunError(f"{deploy_dir / 'deploy.json'}: cannot read ({e.strerror})")
    except ValueError as e:
        raise RunError(f"{deploy_dir / 'deploy.json'}: bad JSON ({e})")
    if d.get("format") != "persephonee-deploy":
        raise RunError(f"{deploy_dir / 'deploy.json'}: not a persephonee-deploy file")
    spec, source = input_spec(deploy_dir, d)
    if source.startswith("default"):
        print(f"run-deployed: warning: {source}; assuming 'pad'", file=sys.stderr)
    xs = [decode(f, spec, resize) for f in args.images]  # every file checked before anything runs
    if args.save_inputs:
        import numpy as np
        np.save(args.save_inputs, np.stack(xs).astype("<f4"))

    import torch
    torch.set_num_threads(1)
    variant = "final-only" if args.final_only else "final-alone" if args.final_alone else "cascade"
    mod = load_module(deploy_dir, args.lite, variant, torch)
    labels, stages = [str(s) for s in d["labels"]], [e["stage"] for e in d["exits"]]
    rows = []
    with torch.inference_mode():
        for f, x in zip(args.images, xs):
            t = torch.from_numpy(x).unsqueeze(0)
            mod(t)  # warm-up
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                label, conf, ex = mod(t)
                times.append((time.perf_counter() - t0) * 1000)
            rows.append({"file": f, "label": labels[label], "label_index": int(label), "confidence": float(conf),
                         "exit": stages[ex] if ex < len(stages) else "final", "exit_index": int(ex),
                         "ms": statistics.median(times)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    wf = max(len("file"), *(len(r["file"]) for r in rows))
    wl = max(len("label"), *(len(r["label"]) for r in rows))
    print(f"{'file':<{wf}}  {'label':<{wl}}  confidence  {'exit':<10}  ms")
    for r in rows:
        print(f"{r['file']:<{wf}}  {r['label']:<{wl}}  {r['confidence']:10.4f}  {r['exit']:<10}  {r['ms']:.3f}")
    share = {s: sum(r["exit"] == s for r in rows) / len(rows) for s in stages + ["final"]}
    print(f"# {len(rows)} images, {'model.ptl' if args.lite else 'model.pt'} ({variant}), 1 thread, batch 1, "
          f"median {statistics.median(r['ms'] for r in rows):.3f} ms; resize {spec['resize']} from {source}; exits: "
          + ", ".join(f"{s} {v:.0%}" for s, v in share.items() if v))


if __name__ == "__main__":
    try:
        main()
    except RunError as e:
        if os.environ.get("PERSEPHONEE_DEBUG") == "1":
            raise
        print(f"run-deployed: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
