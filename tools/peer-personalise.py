#!/usr/bin/env python3
"""Plain-PyTorch peer of PersEPhonEE's exit-only personalisation (PersonalisationJob, --exits auto).

On a TorchScript stage bundle and a persona folder it repeats the Java job step by step: the Java decoder's
preprocessing, the label regime and start weights (java.util.Random reproduced), one frozen inference-mode
pass caching each exit's pooled grid rows, the final exit re-fitted on the labels (2x2 grid, from the
backbone's classifier, lr x 0.1), then a 4x4 grid + linear exit after every stage but the last taught by it
(Adam as DJL's, cosine decay, >= 100 steps), heads as batched products (LinearHeads) and/or one at a time.
Times the frozen pass and head training (medians), then scores the test images untimed. Use /usr/bin/python3.
"""
import argparse, json, math, os, statistics, sys, time
from pathlib import Path

import numpy as np

IMAGE_EXT = {"png", "jpg", "jpeg", "bmp", "gif", "wbmp", "jpe", "jfif"}
MIN_STEPS, REFIT_LR_SCALE, GROUP_SPREAD, FINAL_CELLS, B1, B2, EPS = 100, 0.1, 4, 2, 0.9, 0.999, 1e-8


def jround(x):  # Java's Math.round
    return int(math.floor(x + 0.5))


class JavaRandom:
    """java.util.Random: the 48-bit LCG behind the Java job's shuffles and initial weights."""
    def __init__(self, seed):
        self.s, self.g = (seed ^ 0x5DEECE66D) & ((1 << 48) - 1), None

    def next(self, bits):
        self.s = (self.s * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        return self.s >> (48 - bits)

    def next_int(self, bound):
        u = self.next(31)
        if bound & (bound - 1) == 0:
            return (bound * u) >> 31
        while u - u % bound + bound - 1 >= 1 << 31:
            u = self.next(31)
        return u % bound

    def next_gaussian(self):  # polar method, one value kept for the next call
        if self.g is not None:
            g, self.g = self.g, None
            return g
        s = 0
        while not 0 < s < 1:
            v1, v2 = (2 * ((self.next(26) << 27) + self.next(27)) * 2.0 ** -53 - 1 for _ in range(2))
            s = v1 * v1 + v2 * v2
        mul = math.sqrt(-2 * math.log(s) / s)
        self.g = v2 * mul
        return v1 * mul

    def shuffle(self, a):  # Collections.shuffle
        for i in range(len(a) - 1, 0, -1):
            j = self.next_int(i + 1)
            a[i], a[j] = a[j], a[i]


def scan_persona(root, classes):
    """(path, label or None, is_test) of a persona folder, in ImageImporter's order (sorted by name)."""
    key = lambda n: "".join(c for c in n.strip().lower() if c not in "_-/" and not c.isspace())
    known = {key(c): c for c in classes}
    label = lambda d: known.get(key(d.name), d.name.replace("_", " "))
    files = lambda d: sorted((p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")
                              and p.suffix[1:].lower() in IMAGE_EXT), key=str)
    out = []
    for k in sorted(root.iterdir(), key=lambda p: p.name):
        n = k.name.lower()
        if k.is_dir() and n in ("labelled", "labeled", "test"):
            out += [(f, label(c), n == "test") for c in sorted(k.iterdir(), key=lambda p: p.name) if c.is_dir()
                    for f in files(c)]
        elif k.is_dir() and n in ("unlabelled", "unlabeled"):
            out += [(f, None, False) for f in files(k)]
    return out


# Java's BufferedImage.getRGB reads an 8-bit greyscale PNG as linear grey and returns it sRGB-encoded
# (this table equals Java's for all 256 values). The project's decoder used it until it was fixed to read the
# stored samples like PIL and torchvision (--decode raw, the default); --decode java reproduces the old path.
SRGB8 = np.array([jround(255 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055))
                  for v in np.arange(256) / 255.0], dtype=np.uint8)


def resize(p, nw, nh):
    """ImageDecoder.resize: per axis, area averaging when shrinking, bilinear when enlarging."""
    def weights(n_in, n_out):
        m, r = np.zeros((n_out, n_in)), n_in / n_out
        for i in range(n_out):
            if n_out < n_in:
                for k in range(int(i * r), min(n_in, math.ceil(i * r + r))):
                    m[i, k] = max(0.0, min(i * r + r, k + 1) - max(i * r, k)) / r
            else:
                pos = (i + 0.5) * r - 0.5
                k0 = math.floor(pos)
                m[i, min(n_in - 1, max(0, k0))] += 1 - (pos - k0)
                m[i, min(n_in - 1, max(0, k0 + 1))] += pos - k0
        return m
    h, w = p.shape
    p = p if w == nw else (p @ weights(w, nw).T).astype(np.float32)
    return p if h == nh else (weights(h, nh) @ p).astype(np.float32)


def decode(path, spec, mode):
    """ImageDecoder.decode: alpha over black, Rec. 601 luma for 1 channel, pad or center-crop, mean/std."""
    from PIL import Image
    im = Image.open(path)
    if im.mode in ("L", "LA"):
        g = np.asarray(im.getchannel(0))
        g = SRGB8[g] if mode == "java" else g
        rgba = np.stack([g, g, g, np.asarray(im.getchannel(1)) if im.mode == "LA" else np.full_like(g, 255)], -1)
    else:
        rgba = np.asarray(im.convert("RGBA"))
    v = rgba.astype(np.float32) / np.float32(255)
    rgb = v[..., :3] * v[..., 3:]
    planes = ([np.float32(0.299) * rgb[..., 0] + np.float32(0.587) * rgb[..., 1] + np.float32(0.114) * rgb[..., 2]]
              if spec["channels"] == 1 else [rgb[..., c] for c in range(3)])
    th, tw, (h, w) = spec["height"], spec["width"], planes[0].shape
    out = np.empty((len(planes), th, tw), np.float32)
    for c, p in enumerate(planes):
        if spec.get("resize", "pad") == "center-crop":
            sc = spec["resizeTo"] / min(w, h)
            sh, sw = max(th, jround(h * sc)), max(tw, jround(w * sc))
            out[c] = resize(p, sw, sh)[(sh - th) // 2:(sh - th) // 2 + th, (sw - tw) // 2:(sw - tw) // 2 + tw]
        else:  # fit the whole image, pad with the median of its border
            sc = min(th / h, tw / w)
            sh, sw = max(1, jround(h * sc)), max(1, jround(w * sc))
            border = np.ones_like(p, bool)
            border[1:-1, 1:-1] = False
            out[c] = 0 if (sh, sw) == (th, tw) else np.sort(p[border])[border.sum() // 2]
            out[c, (th - sh) // 2:(th - sh) // 2 + sh, (tw - sw) // 2:(tw - sw) // 2 + sw] = resize(p, sw, sh)
        out[c] = (out[c] - np.float32(spec["mean"][c])) * (np.float32(1) / np.float32(spec["std"][c]))
    return out


def prepare(args, bb):
    """PreparedData.prepare: training and test images, the label regime (a seeded share per class)."""
    items = scan_persona(Path(args.data), bb["classes"])
    train = [(p, l) for p, l, t in items if not t]
    test = [(p, l) for p, l, t in items if t and l is not None]
    if not test:  # the Java job would hold out a seeded 20% of the training images instead
        sys.exit(f"{args.data}: no test/<class>/ images")
    rnd = JavaRandom(args.seed)
    r = args.labels.strip().lower()
    frac = 1.0 if r == "all" else 0.0 if r == "none" else float(r[:-1]) / 100 if r.endswith("%") else float(r)
    used, by_class = [l if frac >= 1 else None for _, l in train], {}
    for i, (_, l) in enumerate(train):
        if l is not None and 0 < frac < 1:
            by_class.setdefault(l, []).append(i)
    for members in by_class.values():
        rnd.shuffle(members)
        for i in members[:max(1, jround(len(members) * frac))]:
            used[i] = train[i][1]
    stack = lambda rows: np.stack([decode(p, bb["input"], args.decode) for p, _ in rows])
    return stack(train), used, stack(test), [l for _, l in test]


def grid_pool(shape, cells):
    """HeadSpec GRID: the average pool (kernel, stride) tiling the map into cells x cells, or None; row width."""
    h = min(shape[1], shape[2])
    g = min(cells, h)
    stride, kernel = h // g, h - (g - 1) * (h // g)
    if kernel == 1 and stride == 1:
        return None, shape[0] * shape[1] * shape[2]
    return (kernel, stride), shape[0] * ((shape[1] - kernel) // stride + 1) * ((shape[2] - kernel) // stride + 1)


def frozen_pass(torch, stages, classifier, x, requests, batch):
    """One inference-mode pass in batches: every request's pooled rows (stage, pool) and the logits."""
    n = x.shape[0]
    rows = {key: torch.empty(n, w) for key, (_, _, w) in requests.items()}
    logits = []
    with torch.inference_mode():
        for s in range(0, n, batch):
            h, outs = x[s:s + batch], []
            for m in stages:
                h = m(h)
                outs.append(h)
            for key, (si, pool, _) in requests.items():
                o = outs[si] if pool is None else torch.nn.functional.avg_pool2d(outs[si], *pool)
                rows[key][s:s + len(h)] = o.flatten(1)
            logits.append(classifier(h))
    return rows, torch.cat(logits)


def fit(torch, inputs, inits, targets, args, base_lr, seed, batched):
    """PersonalisationJob.fit for linear heads on cached rows; returns each head's (weight (in, K), bias)."""
    F = torch.nn.functional
    hard, hw, soft, sw = targets
    order = [i for i in range(len(hw)) if hw[i] > 0 or sw[i] > 0]
    steps = -(-len(order) // args.batch)
    total = steps * max(args.epochs, -(-MIN_STEPS // steps))
    groups = []  # LinearHeads: a new group when a head is more than GROUP_SPREAD x wider than its group's first
    for h in sorted(range(len(inputs)), key=lambda h: inputs[h].shape[1]):
        if not batched or not groups or inputs[h].shape[1] > GROUP_SPREAD * inputs[groups[-1][0]].shape[1]:
            groups.append([])
        groups[-1].append(h)
    state = []
    for g in groups:  # rows and weights padded to the group's widest input (zeros stay zero)
        x = torch.zeros(len(g), inputs[g[0]].shape[0], max(inputs[h].shape[1] for h in g))
        w = torch.zeros(len(g), x.shape[2], hard.shape[1])
        for j, h in enumerate(g):
            x[j, :, :inputs[h].shape[1]], w[j, :inputs[h].shape[1]] = inputs[h], inits[h][0]
        ps = [w.requires_grad_(), torch.stack([inits[h][1] for h in g]).unsqueeze(1).requires_grad_()]
        state.append((x, ps, [torch.zeros_like(p) for p in ps], [torch.zeros_like(p) for p in ps]))
    rnd = JavaRandom(seed)
    for done in range(total):
        s = done % steps
        if s == 0:
            rnd.shuffle(order)
        idx = torch.tensor(order[s * args.batch:(s + 1) * args.batch])
        hd, hwb, sd, swb = hard[idx], hw[idx], soft[idx], sw[idx]
        norm = max(1e-6, float((hwb + swb).sum()))
        lr = base_lr * 0.01 + base_lr * 0.99 / 2 * (1 + math.cos(math.pi * (done + 1) / total))
        corrected = lr * math.sqrt(1 - B2 ** (done + 1)) / (1 - B1 ** (done + 1))
        for x, ps, ms, vs in state:
            z = torch.baddbmm(ps[1], x[:, idx], ps[0])
            loss = (-(F.log_softmax(z, 2) * hd).sum(2) @ hwb - (F.log_softmax(z / args.temperature, 2) * sd)
                    .sum(2) @ swb * args.temperature ** 2) / norm
            loss.sum().backward()
            with torch.no_grad():  # Adam as DJL's (and LinearHeads.adam)
                for p, m, v in zip(ps, ms, vs):
                    grad = p.grad.add(p, alpha=args.weight_decay)
                    m.mul_(B1).add_(grad, alpha=1 - B1)
                    v.mul_(B2).addcmul_(grad, grad, value=1 - B2)
                    p.addcdiv_(m, v.sqrt().add_(EPS), value=-corrected)
                    p.grad = None
    out = {}
    for g, (_, ps, _, _) in zip(groups, state):
        for j, h in enumerate(g):
            out[h] = (ps[0][j, :inputs[h].shape[1]].detach(), ps[1][j, 0].detach())
    return [out[h] for h in range(len(inputs))]


def java_init(torch, width, k, seed):
    """LinearHeads' start: He-normal weights from java.util.Random(seed), drawn class by class; zero bias."""
    r, std = JavaRandom(seed), math.sqrt(2.0 / width)
    w = np.array([[r.next_gaussian() * std for _ in range(width)] for _ in range(k)], np.float32)
    return torch.from_numpy(w.T.copy()), torch.zeros(k)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, help="TorchScript stage bundle folder (backbone.json)")
    ap.add_argument("--data", required=True, help="persona folder: labelled/<class>/, unlabelled/, test/<class>/")
    ap.add_argument("--labels", default="all", help="all | FRACTION | NN%% of each class's labels (default all)")
    for name, typ, default, what in (("seed", int, 42, ""), ("epochs", int, 10, ""), ("lr", float, 0.03, ""),
                                     ("batch", int, 64, "frozen-pass and training batch"),
                                     ("weight-decay", float, 1e-4, ""), ("temperature", float, 2.0, ""),
                                     ("pseudo-threshold", float, 0.8, ""), ("cells", int, 4, "grid cells per side")):
        ap.add_argument("--" + name, type=typ, default=default, help=f"{what} (default {default})".strip())
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--isa", help="cap oneDNN (ONEDNN_MAX_CPU_ISA, e.g. AVX2) as the Java engine guard may")
    ap.add_argument("--mode", choices=["batched", "loop", "both"], default="both",
                    help="heads as batched products (LinearHeads), one at a time, or both (default)")
    ap.add_argument("--decode", choices=["java", "raw"], default="raw",
                    help="greyscale PNGs as stored (default, as the project's decoder) or as Java's getRGB "
                         "returns them (the project's decoder before its greyscale fix)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions, median reported (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed repetitions first (default 1)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args()
    if args.isa:
        os.environ["ONEDNN_MAX_CPU_ISA"] = os.environ["DNNL_MAX_CPU_ISA"] = args.isa
    import torch
    torch.set_num_threads(args.threads)
    root = Path(args.backbone)
    bb = json.loads((root / "backbone.json").read_text())
    if bb.get("format") != "persephonee-torchscript-stages":
        sys.exit(f"{root}: not a TorchScript stage bundle")
    stages = [torch.jit.load(str(root / s["file"])).eval() for s in bb["stages"]]
    classifier = torch.jit.load(str(root / bb["classifier"]["file"])).eval()
    t0 = time.perf_counter()
    xtr, used, xte, te_labels = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in prepare(args, bb)]
    decode_s = time.perf_counter() - t0
    names, shapes, last = bb["classes"], [s["outputShape"] for s in bb["stages"]], len(bb["stages"]) - 1
    exits = list(range(last))  # --exits auto: a grid head after every stage but the last
    requests = {(si, c): (si, *grid_pool(shapes[si], c)) for si, c in [(i, args.cells) for i in exits]
                + [(last, FINAL_CELLS)]}
    labelled = [l for l in used if l is not None]
    if not labelled:  # without labels the label space comes from the teacher's confident classes: not mirrored
        sys.exit("this peer needs labels (--labels all or a fraction)")
    space = [c for c in names if c in labelled] + sorted({l for l in labelled if l not in names})
    k, n = len(space), len(used)
    lab = torch.tensor([space.index(l) if l else -1 for l in used])
    counts = torch.bincount(lab[lab >= 0], minlength=k).float()  # each labelled class the same total weight
    lab_w = torch.where(lab >= 0, len(labelled) / (int((counts > 0).sum()) * counts[lab.clamp(min=0)]), torch.zeros(n))
    onehot = torch.nn.functional.one_hot(lab.clamp(min=0), k).float() * (lab >= 0).unsqueeze(1)
    # start weights (java.util.Random; drawn here, untimed: Java draws them in microseconds)
    inits = [java_init(torch, requests[(h, args.cells)][2], k, args.seed * 1000 + j) for j, h in enumerate(exits)]
    fw, fb = java_init(torch, requests[(last, FINAL_CELLS)][2], k, args.seed * 1000 + 500)
    cw = [p.detach() for p in classifier.parameters() if p.dim() == 2]
    cb = [p.detach() for p in classifier.parameters() if p.dim() == 1]
    if len(cw) == 1 and len(cb) == 1 and cw[0].shape == (len(names), shapes[last][0]):
        cells = fw.shape[0] // shapes[last][0]  # each classifier row spread over the grid cells
        for j, c in enumerate(space):
            if c in names:
                fw[:, j], fb[j] = (cw[0][names.index(c)] / cells).repeat_interleave(cells), cb[0][names.index(c)]

    def train(rows, batched):
        """Re-fit the final exit on the labels, let it teach, train the exits (PersonalisationJob.run)."""
        fin, zeros = rows[(last, FINAL_CELLS)], torch.zeros(n, k)
        (w, b), = fit(torch, [fin], [(fw, fb)], (onehot, lab_w, zeros, torch.zeros(n)), args,
                      args.lr * REFIT_LR_SCALE, args.seed + 17, batched)
        with torch.no_grad():
            teacher = torch.log(torch.softmax(fin @ w + b, 1).clamp(min=1e-12))
            conf, arg = torch.softmax(teacher, 1).max(1)
            pseudo, distil = (lab < 0) & (conf >= args.pseudo_threshold), (lab < 0) & (conf < args.pseudo_threshold)
            tw = torch.full((n,), min(1.0, len(labelled) / max(1, int(pseudo.sum() + distil.sum()))))
            hard = torch.where(pseudo.unsqueeze(1), torch.nn.functional.one_hot(arg, k).float(), onehot)
            soft = torch.where(distil.unsqueeze(1), torch.softmax(teacher / args.temperature, 1), zeros)
            targets = (hard, torch.where(pseudo, tw, lab_w), soft, torch.where(distil, tw, torch.zeros(n)))
        heads = fit(torch, [rows[(h, args.cells)] for h in exits], inits, targets, args, args.lr, args.seed, batched)
        return (w, b), heads, int(pseudo.sum()), int(distil.sum())

    runs, results = [], {}
    for _ in range(args.warmup + args.repeats):
        t = time.perf_counter()
        rows, _ = frozen_pass(torch, stages, classifier, xtr, requests, args.batch)
        run = {"frozen_pass_s": time.perf_counter() - t}
        for batched in {"batched": [True], "loop": [False], "both": [True, False]}[args.mode]:
            t = time.perf_counter()
            results[batched] = train(rows, batched)
            run["head_training_s" if batched else "head_training_loop_s"] = time.perf_counter() - t
        runs.append({key: round(v, 4) for key, v in run.items()})
    med = {key: statistics.median(r[key] for r in runs[args.warmup:] or runs) for key in runs[0]}
    (fw2, fb2), heads, n_pseudo, n_distil = results.get(True) or results[False]
    te_rows, te_logits = frozen_pass(torch, stages, classifier, xte, requests, args.batch)  # evaluation: untimed
    truth = torch.tensor([space.index(l) if l in space else -2 for l in te_labels])
    acc = lambda z: round(float((z.argmax(1) == truth).float().mean()), 4)
    report = {
        "peer": "tools/peer-personalise.py", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"), "ld_preload": os.environ.get("LD_PRELOAD"),
        "config": {key: getattr(args, key) for key in ("backbone", "data", "labels", "seed", "epochs", "lr", "batch",
                                                       "weight_decay", "temperature", "pseudo_threshold", "cells",
                                                       "mode", "decode", "warmup", "repeats")},
        "exits": [f"{bb['stages'][h]['name']}:grid{args.cells}" for h in exits],
        "final_exit": f"{bb['stages'][last]['name']}:grid{FINAL_CELLS} (re-fitted, lr {args.lr * REFIT_LR_SCALE:g})",
        "train_images": n, "labels_used": len(labelled), "pseudo_labelled": n_pseudo, "distilled": n_distil,
        "test_images": len(te_labels), "label_space": space, "decode_s": round(decode_s, 3),
        "timing": {**{key: round(v, 4) for key, v in med.items()},
                   "frozen_pass_ms_per_image": round(1000 * med["frozen_pass_s"] / n, 4), "runs": runs},
        "generic_accuracy": round(float((te_logits.argmax(1) == torch.tensor(
            [names.index(l) if l in names else -1 for l in te_labels])).float().mean()), 4),
        "personalised_final_accuracy": acc(te_rows[(last, FINAL_CELLS)] @ fw2 + fb2),
        "exit_accuracy": {bb["stages"][h]["name"]: acc(te_rows[(h, args.cells)] @ w + b) for h, (w, b) in zip(exits, heads)},
    }
    if args.json:
        return print(json.dumps(report, indent=1))
    t, a = report["timing"], report["exit_accuracy"]
    print(f"{n} training images, {len(labelled)} labelled, {report['threads']} threads: " + ", ".join(
        f"{key} {v}" for key, v in t.items() if key != "runs"))
    print(f"test accuracy: generic {report['generic_accuracy']}, final {report['personalised_final_accuracy']}, "
          + ", ".join(f"{s} {v}" for s, v in a.items()))


if __name__ == "__main__":
    main()
