#!/usr/bin/env python3
"""Export a personalised PersEPhonEE early-exit network as one TorchScript module (desktop and mobile).

    export-torchscript.py --deploy DIR [--bundle BUNDLE_DIR] [--parity-in FILE.npy --parity-out FILE.json]

Reads DIR/deploy.json and DIR/weights.safetensors (written by the Java side), rebuilds in PyTorch the network
EarlyExitModel.classify runs, scripts it and writes DIR/model.pt (torch.jit.save) and DIR/model.ptl (lite
interpreter, no optimize_for_mobile so the numerics stay the same).

deploy.json: "format": "persephonee-deploy", "version": 1, "input" {channels, height, width, ...}, "labels"
(K personal classes), "label_backbone_index" (backbone class per personal class, -1 for a new class),
"confidence" ("max_softmax" | "entropy"), "backbone" ("format" "declarative": stages [{name, layers}] and
"classifier" layers; or "torchscript-stages": stages [{name, file}] and classifier {file}, files relative to
--bundle, default DIR), "exits" [{stage, stage_index, threshold, layers}] in stage order, "final" {kind "refit"
with layers | "backbone", stage, optional "ensemble" [{stage, stage_index, layers}]: heads whose probabilities are
averaged with the final exit's, the final exit's first}. Other fields are ignored. Layers are LayerSpec JSON, built as DJL 0.36 does:
CONV (bias default false), BN (eps 1e-5, running statistics), RELU, RESIDUAL (body(x) + shortcut(x), empty
shortcut = identity, no activation), MAXPOOL/AVGPOOL (no padding, floor), GAP (to [N, C]), FLATTEN (to [N, -1]),
LINEAR (bias default true; on the last axis, as DJL), DROPOUT (identity).

weights.safetensors: float32 tensors named <block>.<k>.<djlName>; block is stage.<i> / classifier (declarative
only), exit.<j>, final (refit only), ensemble.<k>; k is the ordinal in DJL getParameters() order (depth first, residual body
before shortcut); djlName weight/bias (CONV, LINEAR) or gamma/beta/runningMean/runningVar (BN).

The module: forward(x [1,C,H,W]) -> (label index, confidence, exit index; len(exits) for the final exit),
returning at the first exit whose confidence >= its threshold; all_exits(x) -> every exit's probabilities [1,K]
then the final exit's (averaged with its ensemble heads'), then each ensemble head's; all_logits(x) the same raw
(the final block's own); attributes labels, thresholds, exit_stages.
With --parity-in (float32 [N,C,H,W], normalised) the saved model.pt is loaded back and run on each image at
batch 1; --parity-out gets {"images": [{"exit", "label", "confidence", "probs", "logits"}], "torch": version}.
Errors: one line on stderr, exit status 1 (PERSEPHONEE_DEBUG=1 shows the traceback).
"""
import argparse
import json
import math
import os
import re
import struct
import sys
from typing import List, Tuple

import numpy as np
import torch
from torch import Tensor, nn

FORMAT = "persephonee-deploy"
VERSION = 1
DEPLOY = "deploy.json"  # the deploy.json being read, for messages
PARAM_NAMES = {"CONV": ["weight", "bias"], "LINEAR": ["weight", "bias"],
               "BN": ["gamma", "beta", "runningMean", "runningVar"]}


class ExportError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 1, like every other error
        print(f"export-torchscript: {message} (see --help)", file=sys.stderr)
        sys.exit(1)


def read_safetensors(path):
    """{name: float32 tensor} from a safetensors file (F32 only)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ExportError(f"{path}: too short for a safetensors file")
    n = struct.unpack("<Q", raw[:8])[0]
    if n > len(raw) - 8:
        raise ExportError(f"{path}: header length {n} exceeds the file ({len(raw)} bytes)")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except ValueError as e:
        raise ExportError(f"{path}: bad JSON header ({e})")
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape, (begin, end) = info.get("shape"), info.get("data_offsets", (-1, -1))
        if info.get("dtype") != "F32":
            raise ExportError(f"{path}: tensor '{name}' has dtype {info.get('dtype')}, expected F32")
        count = int(np.prod(shape)) if shape else 1
        if not 0 <= begin <= end <= len(data) or end - begin != 4 * count:
            raise ExportError(f"{path}: tensor '{name}' offsets {[begin, end]} do not fit shape {shape}")
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out


class Weights:
    """The tensors grouped by block and ordered by k; handed out layer by layer with name and shape checks."""

    def __init__(self, tensors, path):
        self.path, self.blocks, self.next = path, {}, {}
        for name, t in tensors.items():
            m = re.fullmatch(r"(stage\.\d+|classifier|exit\.\d+|final|ensemble\.\d+)\.(\d+)\.(\w+)", name)
            if not m:
                raise ExportError(f"{path}: unexpected tensor name '{name}' (expected <block>.<k>.<djlName>)")
            self.blocks.setdefault(m.group(1), {})[int(m.group(2))] = (m.group(3), t)

    def take(self, block, djl_name, shape, where):
        k = self.next.get(block, 0)
        entry = self.blocks.get(block, {}).get(k)
        if entry is None:
            raise ExportError(f"{self.path}: {where} needs '{block}.{k}.{djl_name}' {fmt(shape)}, which is missing")
        name, t = entry
        if name != djl_name or any(want is not None and want != got for want, got in zip(shape, t.shape)) \
                or len(shape) != t.dim():
            raise ExportError(f"{self.path}: {where} expects '{block}.{k}.{djl_name}' {fmt(shape)}, found "
                              f"'{block}.{k}.{name}' {list(t.shape)}")
        self.next[block] = k + 1
        return t

    def check_all_used(self):
        for block, entries in self.blocks.items():
            extra = sorted(k for k in entries if k >= self.next.get(block, 0))
            if extra:
                raise ExportError(f"{self.path}: {len(extra)} tensor(s) of '{block}' are not used by deploy.json "
                                  f"(first '{block}.{extra[0]}.{entries[extra[0]][0]}')")


class GlobalAvgPool(nn.Module):
    def forward(self, x: Tensor) -> Tensor:  # DJL: adaptive average pool to 1x1, reshaped to [N, C]
        return torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)


class Residual(nn.Module):
    def __init__(self, body: nn.Module, shortcut: nn.Module):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


def build_layers(layers, w, block, where):
    """nn.Sequential for a LayerSpec list, taking the block's parameters in DJL order."""
    if not isinstance(layers, list):
        raise ExportError(f"{DEPLOY}: {where} layers must be a list")
    mods = []
    for i, l in enumerate(layers):
        at = f"{where} layer {i}"
        if not isinstance(l, dict):
            raise ExportError(f"{DEPLOY}: {at} is not a layer object")
        kind = l.get("type")

        def field(name, default=None):
            v = l.get(name, default)
            if v is None:
                raise ExportError(f"{DEPLOY}: {at} ({kind}) has no '{name}'")
            return v

        if kind in PARAM_NAMES:
            def param(idx, shape):
                return nn.Parameter(w.take(block, PARAM_NAMES[kind][idx], shape, at), requires_grad=False)
        if kind == "CONV":
            out, k, bias = field("out"), field("kernel"), bool(l.get("bias", False))
            weight = param(0, [out, None, k, k])
            m = nn.Conv2d(weight.shape[1], out, k, field("stride"), field("pad"), bias=bias)
            m.weight = weight
            if bias:
                m.bias = param(1, [out])
        elif kind == "BN":
            gamma = param(0, [None])
            c = gamma.shape[0]
            m = nn.BatchNorm2d(c, eps=1e-5)
            m.weight, m.bias = gamma, param(1, [c])
            m.running_mean.copy_(param(2, [c]).data)
            m.running_var.copy_(param(3, [c]).data)
        elif kind == "LINEAR":
            out, bias = field("out"), l.get("bias") is not False
            weight = param(0, [out, None])
            m = nn.Linear(weight.shape[1], out, bias=bias)
            m.weight = weight
            if bias:
                m.bias = param(1, [out])
        elif kind == "RELU":
            m = nn.ReLU()
        elif kind in ("MAXPOOL", "AVGPOOL"):
            pool = nn.MaxPool2d if kind == "MAXPOOL" else nn.AvgPool2d
            m = pool(field("kernel"), field("stride"), padding=0, ceil_mode=False)
        elif kind == "GAP":
            m = GlobalAvgPool()
        elif kind == "FLATTEN":
            m = nn.Flatten(1)
        elif kind == "DROPOUT":
            m = nn.Identity()
        elif kind == "RESIDUAL":
            body = build_layers(field("body"), w, block, at + " body")
            m = Residual(body, build_layers(l.get("shortcut") or [], w, block, at + " shortcut"))
        else:
            raise ExportError(f"{DEPLOY}: {at} has unknown type {kind!r}")
        mods.append(m)
    return nn.Sequential(*mods)


class EarlyExitNet(nn.Module):
    labels: List[str]
    thresholds: List[float]
    exit_stages: List[str]
    entropy: torch.jit.Final[bool]
    final_is_backbone: torch.jit.Final[bool]

    def __init__(self, stages, stage_heads, final, labels, thresholds, exit_stages, entropy, backbone_index,
                 stage_ensemble):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.stage_heads = nn.ModuleList([nn.ModuleList(h) for h in stage_heads])
        # heads averaged with the final exit (EarlyExitModel: the final exit's probabilities first, then theirs)
        self.stage_ensemble = nn.ModuleList([nn.ModuleList(h) for h in stage_ensemble])
        self.final = final
        self.labels, self.thresholds, self.exit_stages = labels, thresholds, exit_stages
        self.entropy, self.final_is_backbone = entropy, backbone_index is not None
        idx = backbone_index if backbone_index is not None else [-1] * len(labels)
        self.register_buffer("backbone_index", torch.tensor(idx, dtype=torch.long))

    def _confidence(self, p: Tensor) -> float:
        if not self.entropy:
            return float(p.max().item())
        k = p.size(1)
        if k < 2:
            return 1.0
        pd = p.double()
        h = -torch.where(pd > 0, pd * torch.log(pd), torch.zeros_like(pd)).sum()
        return 1.0 - float(h.item()) / math.log(k)

    def _final_probs(self, x: Tensor) -> Tensor:
        z = self.final(x)
        if not self.final_is_backbone:
            return torch.softmax(z, dim=1)
        # PersonalLabelSpace.restrictedSoftmax: in double, each exp rounded to float, new classes get 0
        valid = (self.backbone_index >= 0).unsqueeze(0)
        zk = z.double().index_select(1, self.backbone_index.clamp(min=0)).masked_fill(~valid, -math.inf)
        e = torch.exp(zk - zk.max(dim=1, keepdim=True).values).masked_fill(~valid, 0.0).float().double()
        s = e.sum(dim=1, keepdim=True)
        return torch.where(s > 0, e / s, torch.zeros_like(e)).float()

    def _average(self, p: Tensor, members: List[Tensor]) -> Tensor:
        if len(members) == 0:
            return p
        m = p
        for q in members:
            m = m + q
        return m / (len(members) + 1)

    def forward(self, x: Tensor) -> Tuple[int, float, int]:
        j = 0
        members: List[Tensor] = []
        for stage, heads, ensemble in zip(self.stages, self.stage_heads, self.stage_ensemble):
            x = stage(x)
            for h in ensemble:
                members.append(torch.softmax(h(x), dim=1))
            for head in heads:
                p = torch.softmax(head(x), dim=1)
                c = self._confidence(p)
                if c >= self.thresholds[j]:
                    return int(torch.argmax(p, dim=1).item()), c, j
                j += 1
        p = self._average(self._final_probs(x), members)
        return int(torch.argmax(p, dim=1).item()), self._confidence(p), j

    @torch.jit.export
    def all_exits(self, x: Tensor) -> List[Tensor]:
        out: List[Tensor] = []
        members: List[Tensor] = []
        for stage, heads, ensemble in zip(self.stages, self.stage_heads, self.stage_ensemble):
            x = stage(x)
            for h in ensemble:
                members.append(torch.softmax(h(x), dim=1))
            for head in heads:
                out.append(torch.softmax(head(x), dim=1))
        out.append(self._average(self._final_probs(x), members))
        return out + members

    @torch.jit.export
    def all_logits(self, x: Tensor) -> List[Tensor]:
        """Every exit's raw outputs, then the final block's (a re-fitted head's, or the backbone classifier's)."""
        out: List[Tensor] = []
        members: List[Tensor] = []
        for stage, heads, ensemble in zip(self.stages, self.stage_heads, self.stage_ensemble):
            x = stage(x)
            for h in ensemble:
                members.append(h(x))
            for head in heads:
                out.append(head(x))
        out.append(self.final(x))
        return out + members


def load_ts(bundle, spec, what):
    f = spec.get("file") if isinstance(spec, dict) else None
    if not f:
        raise ExportError(f"{DEPLOY}: {what} has no 'file'")
    path = os.path.join(bundle, f)
    if not os.path.isfile(path):
        raise ExportError(f"{path}: {what} file not found (--bundle {bundle})")
    try:
        return torch.jit.load(path, map_location="cpu").eval()
    except Exception as e:
        raise ExportError(f"{path}: cannot load {what} as TorchScript ({first_line(e)})")


def build(deploy_dir, bundle):
    global DEPLOY
    path = DEPLOY = os.path.join(deploy_dir, "deploy.json")
    try:
        with open(path) as f:
            d = json.load(f)
    except OSError as e:
        raise ExportError(f"{path}: cannot read ({e.strerror})")
    except ValueError as e:
        raise ExportError(f"{path}: bad JSON ({first_line(e)})")
    if d.get("format") != FORMAT or d.get("version") != VERSION:
        raise ExportError(f"{path}: expected format '{FORMAT}' version {VERSION}, got "
                          f"{d.get('format')!r} version {d.get('version')!r}")
    try:
        labels, index = [str(s) for s in d["labels"]], [int(i) for i in d["label_backbone_index"]]
        conf, bb, exits, fin, inp = d["confidence"], d["backbone"], d["exits"], d["final"], d["input"]
        shape = [int(inp["channels"]), int(inp["height"]), int(inp["width"])]
    except (KeyError, TypeError, ValueError) as e:
        raise ExportError(f"{path}: missing or malformed field {first_line(e)}")
    if len(labels) != len(index) or len(labels) < 1:
        raise ExportError(f"{path}: {len(labels)} labels but {len(index)} label_backbone_index entries")
    if conf not in ("max_softmax", "entropy"):
        raise ExportError(f"{path}: confidence must be 'max_softmax' or 'entropy', got {conf!r}")
    wpath = os.path.join(deploy_dir, "weights.safetensors")
    w = Weights(read_safetensors(wpath), wpath)

    fmt, stage_specs = bb.get("format"), bb.get("stages") or []
    names = [s.get("name") for s in stage_specs]
    if fmt == "declarative":
        stages = [build_layers(s.get("layers"), w, f"stage.{i}", f"stage '{s.get('name')}'")
                  for i, s in enumerate(stage_specs)]
        classifier = build_layers(bb.get("classifier"), w, "classifier", "classifier")
    elif fmt == "torchscript-stages":
        stages = [load_ts(bundle, s, f"stage '{s.get('name')}'") for s in stage_specs]
        classifier = load_ts(bundle, bb.get("classifier"), "classifier")
    else:
        raise ExportError(f"{path}: backbone format must be 'declarative' or 'torchscript-stages', got {fmt!r}")
    if not stages:
        raise ExportError(f"{path}: the backbone has no stages")

    heads, thresholds, exit_stages, last = [[] for _ in stages], [], [], -1
    for j, e in enumerate(exits):
        if not isinstance(e, dict):
            raise ExportError(f"{path}: exit {j} is not an object")
        si = e.get("stage_index")
        if not isinstance(si, int) or not 0 <= si < len(stages) or names[si] != e.get("stage"):
            raise ExportError(f"{path}: exit {j} stage {e.get('stage')!r} / stage_index {si} is not a stage")
        if si < last:
            raise ExportError(f"{path}: exit {j} (stage {e.get('stage')!r}) is out of stage order")
        last = si
        heads[si].append(build_layers(e.get("layers"), w, f"exit.{j}", f"exit {j} ({e.get('stage')})"))
        if not isinstance(e.get("threshold"), (int, float)):
            raise ExportError(f"{path}: exit {j} has no numeric 'threshold'")
        thresholds.append(float(e["threshold"]))
        exit_stages.append(names[si])
    if fin.get("stage") not in (None, names[-1]):
        raise ExportError(f"{path}: final stage {fin.get('stage')!r} is not the last stage {names[-1]!r}")
    if fin.get("kind") == "refit":
        final, backbone_index = build_layers(fin.get("layers"), w, "final", "final exit"), None
    elif fin.get("kind") == "backbone":
        final, backbone_index = classifier, index
    else:
        raise ExportError(f"{path}: final kind must be 'refit' or 'backbone', got {fin.get('kind')!r}")
    ensemble, last = [[] for _ in stages], -1
    for k, e in enumerate(fin.get("ensemble") or []):
        si = e.get("stage_index") if isinstance(e, dict) else None
        if not isinstance(si, int) or not 0 <= si < len(stages) or names[si] != e.get("stage") or si <= last:
            raise ExportError(f"{path}: final exit ensemble head {k} is not at a stage in order")
        last = si
        ensemble[si].append(build_layers(e.get("layers"), w, f"ensemble.{k}", f"final exit ensemble head {k} "
                                         f"({e.get('stage')})"))
    w.check_all_used()
    net = EarlyExitNet(stages, heads, final, labels, thresholds, exit_stages, conf == "entropy", backbone_index,
                       ensemble)
    net.eval()
    check_shapes(net, shape, names, exit_stages, len(labels), backbone_index)
    return net, shape


def check_shapes(net, shape, names, exit_stages, k, backbone_index):
    """Runs zeros through every block so a wrong shape is reported by block, not deep inside scripting."""
    x, j = torch.zeros([1] + shape), 0
    with torch.no_grad():
        for stage, heads, ensemble, name in zip(net.stages, net.stage_heads, net.stage_ensemble, names):
            x = run(stage, x, f"stage '{name}'")
            for h in ensemble:
                y = run(h, x, f"final exit ensemble head at '{name}'")
                if list(y.shape) != [1, k]:
                    raise ExportError(f"{DEPLOY}: the final exit's ensemble head at '{name}' gives {list(y.shape)}, "
                                      f"expected [1, {k}]")
            for head in heads:
                y = run(head, x, f"exit {j} ({exit_stages[j]}) head")
                if list(y.shape) != [1, k]:
                    raise ExportError(f"{DEPLOY}: exit {j} head gives {list(y.shape)}, expected [1, {k}]")
                j += 1
        y = run(net.final, x, "final exit")
    want = [1, k] if backbone_index is None else None
    if y.dim() != 2 or (want and list(y.shape) != want) or (not want and max(backbone_index) >= y.shape[1]):
        raise ExportError(f"{DEPLOY}: final exit gives {list(y.shape)}, which does not fit {k} personal "
                          f"classes / label_backbone_index {backbone_index}")


def run(module, x, what):
    try:
        return module(x)
    except Exception as e:
        raise ExportError(f"{DEPLOY}: {what} cannot take input {list(x.shape)}: {first_line(e)}")


def parity(model_path, npy, out_path, shape):
    try:
        images = np.load(npy)
    except Exception as e:
        raise ExportError(f"{npy}: cannot read ({first_line(e)})")
    if images.dtype != np.float32 or images.ndim != 4 or list(images.shape[1:]) != shape:
        raise ExportError(f"{npy}: expected float32 [N, {', '.join(map(str, shape))}], got "
                          f"{images.dtype} {list(images.shape)}")
    m = torch.jit.load(model_path, map_location="cpu")
    rows = []
    with torch.no_grad():
        for img in images:
            x = torch.from_numpy(np.ascontiguousarray(img)).unsqueeze(0)
            label, conf, ex = m(x)
            probs = [p.reshape(-1).tolist() for p in m.all_exits(x)]
            logits = [z.reshape(-1).tolist() for z in m.all_logits(x)]
            rows.append({"exit": ex, "label": label, "confidence": conf, "probs": probs, "logits": logits})
    with open(out_path, "w") as f:
        json.dump({"images": rows, "torch": torch.__version__}, f)
    return rows


def fmt(shape):
    return "[" + ", ".join("?" if s is None else str(s) for s in shape) + "]"


def first_line(e):
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return lines[0] if lines else type(e).__name__


def main():
    ap = Parser(prog="export-torchscript.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deploy", required=True, help="folder with deploy.json and weights.safetensors")
    ap.add_argument("--bundle", help="folder torchscript-stages files are relative to (default: --deploy)")
    ap.add_argument("--parity-in", help="float32 .npy [N, C, H, W] of normalised images")
    ap.add_argument("--parity-out", help="JSON file for the parity results")
    a = ap.parse_args()
    if (a.parity_in is None) != (a.parity_out is None):
        ap.error("--parity-in and --parity-out go together")
    torch.set_num_threads(1)
    where = a.deploy
    try:
        net, shape = build(a.deploy, a.bundle or a.deploy)
        where = os.path.join(a.deploy, "model.pt")
        scripted = torch.jit.script(net).eval()
        torch.jit.save(scripted, where)
        where = os.path.join(a.deploy, "model.ptl")
        scripted._save_for_lite_interpreter(where)
        msg = (f"wrote {os.path.join(a.deploy, 'model.pt')} and model.ptl: {len(net.stages)} stages, "
               f"{len(net.thresholds)} exits, final {'backbone' if net.final_is_backbone else 'refit'}, "
               f"{len(net.labels)} classes")
        if a.parity_in:
            where = a.parity_in
            rows = parity(os.path.join(a.deploy, "model.pt"), a.parity_in, a.parity_out, shape)
            taken = [sum(r["exit"] == j for r in rows) for j in range(len(net.thresholds) + 1)]
            msg += f"; parity: {len(rows)} images to {a.parity_out}, exits taken {taken}"
        print(msg)
    except Exception as e:
        if os.environ.get("PERSEPHONEE_DEBUG") == "1":
            raise
        text = str(e) if isinstance(e, ExportError) else f"{where}: {type(e).__name__}: {first_line(e)}"
        print("export-torchscript: " + text, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
