#!/usr/bin/env python3
"""Plain-PyTorch peer of PersEPhonEE's exit-only personalisation, for honest throughput comparisons.

Mirrors PersonalisationJob on a TorchScript stage bundle: the Java decoder's preprocessing, the label
regime (java.util.Random reproduced, so the same images keep their labels), one frozen inference-mode
pass over the training images caching each exit's pooled grid rows and the final logits, then the
re-fitted final exit (2x2 grid, started from the backbone's classifier, lr x 0.1, labels only) and the
auto exits (a 4x4 grid + linear head after every stage but the last) trained on the cache with the
final exit as teacher: Adam (L2 weight decay added to the gradient, DJL's bias correction), cosine
decay to 1% of the lr, at least 100 steps, heads of similar width as one batched product (LinearHeads).
Times the frozen pass and head training (median over --repeats after --warmup), then evaluates
(untimed) on the persona's test images. Debian: /usr/bin/python3 (python3-torch, python3-pil).
"""
import argparse, json, math, os, statistics, sys, time
from pathlib import Path

import numpy as np

IMAGE_EXT = {"png", "jpg", "jpeg", "bmp", "gif", "wbmp", "jpe", "jfif"}
MIN_STEPS, REFIT_LR_SCALE, GROUP_SPREAD, B1, B2, EPS = 100, 0.1, 4, 0.9, 0.999, 1e-8


def jround(x):  # Java's Math.round
    return int(math.floor(x + 0.5))


class JavaRandom:
    """java.util.Random (48-bit LCG): the Java job's seeded shuffles and initial weights, bit for bit."""
    def __init__(self, seed):
        self.s, self.g = (seed ^ 0x5DEECE66D) & ((1 << 48) - 1), None

    def next(self, bits):
        self.s = (self.s * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        return self.s >> (48 - bits)

    def next_int(self, bound):
        r, m = self.next(31), bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        while u - (u % bound) + m >= 1 << 31:
            u = self.next(31)
        return u % bound

    def next_gaussian(self):
        if self.g is not None:
            g, self.g = self.g, None
            return g
        while True:
            v1 = 2 * ((self.next(26) << 27) + self.next(27)) * 2.0 ** -53 - 1
            v2 = 2 * ((self.next(26) << 27) + self.next(27)) * 2.0 ** -53 - 1
            s = v1 * v1 + v2 * v2
            if 0 < s < 1:
                break
        mul = math.sqrt(-2 * math.log(s) / s)
        self.g = v2 * mul
        return v1 * mul

    def shuffle(self, a):  # Collections.shuffle / Vectors.shuffle
        for i in range(len(a) - 1, 0, -1):
            j = self.next_int(i + 1)
            a[i], a[j] = a[j], a[i]


# ---------------------------------------------------------------- data (ImageImporter + ImageDecoder)
def class_key(name):
    return "".join(c for c in name.strip().lower() if c not in " _-/" and not c.isspace())


def scan_persona(root, classes):
    """(path, label or None, is_test) in the Java importer's order: children sorted by name, files sorted."""
    by_key = {class_key(c): c for c in classes}
    label = lambda d: by_key.get(class_key(d.name), d.name.replace("_", " "))
    files = lambda d: sorted((p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")
                              and p.suffix[1:].lower() in IMAGE_EXT), key=str)
    kids = sorted(root.iterdir(), key=lambda p: p.name)
    structured = any(k.is_dir() and k.name.lower() in ("labelled", "labeled", "unlabelled", "unlabeled", "test")
                     for k in kids)
    out = []
    for k in kids:
        n = k.name.lower()
        if k.is_dir() and n in ("labelled", "labeled", "test"):
            out += [(f, label(c), n == "test") for c in sorted(k.iterdir(), key=lambda p: p.name) if c.is_dir()
                    for f in files(c)]
        elif k.is_dir() and n in ("unlabelled", "unlabeled"):
            out += [(f, None, False) for f in files(k)]
        elif k.is_dir() and not structured:
            out += [(f, label(k), False) for f in files(k)]
        elif k.is_file() and k.suffix[1:].lower() in IMAGE_EXT:
            out.append((k, None, False))
    return out


# Java's BufferedImage.getRGB on an 8-bit greyscale image converts linear grey to sRGB (checked: equal to
# Java's table for all 256 values); --decode raw reads the stored samples instead (PIL/torchvision).
SRGB8 = np.array([jround(255 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055))
                  for v in np.arange(256) / 255.0], dtype=np.uint8)


def axis_weights(n_in, n_out):
    """ImageDecoder.resizeAxis as a matrix: area averaging when shrinking, bilinear when enlarging."""
    m, ratio = np.zeros((n_out, n_in)), n_in / n_out
    for i in range(n_out):
        if n_out < n_in:
            s, e = i * ratio, i * ratio + ratio
            for k in range(int(math.floor(s)), min(n_in, int(math.ceil(e)))):
                m[i, k] += max(0.0, min(e, k + 1) - max(s, k)) / ratio
        else:
            pos = (i + 0.5) * ratio - 0.5
            k0 = int(math.floor(pos))
            t = pos - k0
            m[i, max(0, min(n_in - 1, k0))] += 1 - t
            m[i, max(0, min(n_in - 1, k0 + 1))] += t
    return m


def resize(p, nw, nh):
    h, w = p.shape
    if w != nw:
        p = (p @ axis_weights(w, nw).T).astype(np.float32)
    if h != nh:
        p = (axis_weights(h, nh) @ p).astype(np.float32)
    return p


def decode(path, spec, mode):
    from PIL import Image
    im = Image.open(path)
    im.load()
    if im.mode in ("L", "LA"):
        g = np.asarray(im.getchannel(0))
        g = SRGB8[g] if mode == "java" else g
        a = np.asarray(im.getchannel(1)) if im.mode == "LA" else np.full_like(g, 255)
        rgba = np.stack([g, g, g, a], -1)
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
            y0, x0 = (sh - th) // 2, (sw - tw) // 2
            out[c] = resize(p, sw, sh)[y0:y0 + th, x0:x0 + tw]
        else:
            sc = min(th / h, tw / w)
            sh, sw = max(1, jround(h * sc)), max(1, jround(w * sc))
            y0, x0 = (th - sh) // 2, (tw - sw) // 2
            border = np.ones_like(p, bool)
            border[1:-1, 1:-1] = False
            b = np.sort(p[border])
            out[c] = 0 if (sh, sw) == (th, tw) else b[len(b) // 2]
            out[c, y0:y0 + sh, x0:x0 + sw] = resize(p, sw, sh)
        out[c] = (out[c] - np.float32(spec["mean"][c])) * (np.float32(1) / np.float32(spec["std"][c]))
    return out


def prepare(args, bb):
    """PreparedData.prepare: training/evaluation split and the label regime (labels kept per class, seeded)."""
    items = scan_persona(Path(args.data), bb["classes"])
    x = {p: decode(p, bb["input"], args.decode) for p, _, _ in items}
    train = [(p, l) for p, l, t in items if not t]
    evl = [(p, l) for p, l, t in items if t and l is not None]
    rnd = JavaRandom(args.seed)
    if not evl:  # no test images: hold out a seeded 20% of the training images
        idx = list(range(len(train)))
        rnd.shuffle(idx)
        hold = set(idx[:jround(len(train) * 0.2)])
        evl = [train[i] for i in sorted(hold)]
        train = [t for i, t in enumerate(train) if i not in hold]
    given = [l for _, l in train]
    regime = args.labels.strip().lower()
    frac = (1.0 if regime == "all" else 0.0 if regime == "none" else
            float(regime[:-1]) / 100 if regime.endswith("%") else float(regime))
    if frac >= 1:
        used = list(given)
    else:
        used, by_class = [None] * len(train), {}
        for i, l in enumerate(given):
            if l is not None and frac > 0:
                by_class.setdefault(l, []).append(i)
        for members in by_class.values():
            rnd.shuffle(members)
            for i in members[:max(1, jround(len(members) * frac))]:
                used[i] = given[i]
    stack = lambda rows: np.stack([x[p] for p, _ in rows]) if rows else np.zeros((0,) + x[items[0][0]].shape, np.float32)
    return stack(train), used, given, stack(evl), [l for _, l in evl]


# ---------------------------------------------------------------- model pieces
def grid_pool(shape, cells):
    """HeadSpec GRID layers before the linear: (kernel, stride) of the average pool, or None; row width."""
    c, h = shape[0], min(shape[1], shape[2])
    g = min(cells, h)
    stride = h // g
    kernel = h - (g - 1) * stride
    pool = (kernel, stride) if kernel > 1 or stride > 1 else None
    oh, ow = ((shape[1] - kernel) // stride + 1, (shape[2] - kernel) // stride + 1) if pool else shape[1:]
    return pool, c * oh * ow


def frozen_pass(torch, stages, classifier, x, requests, batch):
    """One inference-mode pass: each request's pooled rows (stage index, pool) and the final logits."""
    F = torch.nn.functional
    n = x.shape[0]
    rows = {k: torch.empty(n, w) for k, (_, _, w) in requests.items()}
    logits = None
    with torch.inference_mode():
        for s in range(0, n, batch):
            h, outs = x[s:s + batch], []
            for m in stages:
                h = m(h)
                outs.append(h)
            for k, (si, pool, _) in requests.items():
                o = outs[si] if pool is None else F.avg_pool2d(outs[si], pool[0], pool[1])
                rows[k][s:s + len(h)] = o.flatten(1)
            z = classifier(h)
            logits = torch.empty(n, z.shape[1]) if logits is None else logits
            logits[s:s + len(h)] = z
    return rows, logits


def fit(torch, inputs, inits, tg, args, base_lr, seed, batched):
    """PersonalisationJob.fit for linear heads on cached rows: W (heads, width, K), b (heads, 1, K)."""
    F = torch.nn.functional
    hard, hw, soft, sw = tg
    order = [i for i in range(len(hw)) if hw[i] > 0 or sw[i] > 0]
    steps = -(-len(order) // args.batch)
    epochs = max(args.epochs, -(-MIN_STEPS // steps))
    total, t2 = steps * epochs, args.temperature ** 2
    if batched:  # a new group when a head is more than GROUP_SPREAD times wider than its group's first
        groups = []
        for h in sorted(range(len(inputs)), key=lambda h: inputs[h].shape[1]):
            if not groups or inputs[h].shape[1] > GROUP_SPREAD * inputs[groups[-1][0]].shape[1]:
                groups.append([])
            groups[-1].append(h)
    else:
        groups = [[h] for h in range(len(inputs))]
    state = []
    for g in groups:
        width = max(inputs[h].shape[1] for h in g)
        x = torch.zeros(len(g), inputs[g[0]].shape[0], width)
        w = torch.zeros(len(g), width, hard.shape[1])
        for j, h in enumerate(g):
            x[j, :, :inputs[h].shape[1]] = inputs[h]
            w[j, :inits[h][0].shape[0]] = inits[h][0]
        b = torch.stack([inits[h][1] for h in g]).unsqueeze(1).clone()
        ps = [w.requires_grad_(), b.requires_grad_()]
        state.append((x, ps, [torch.zeros_like(p) for p in ps], [torch.zeros_like(p) for p in ps]))
    rnd, done = JavaRandom(seed), 0
    for _ in range(epochs):
        rnd.shuffle(order)
        for s in range(steps):
            idx = torch.tensor(order[s * args.batch:(s + 1) * args.batch])
            hd, hwb, sd, swb = hard[idx], hw[idx], soft[idx], sw[idx]
            norm = max(1e-6, float((hwb + swb).sum()))
            lr = base_lr * 0.01 + (base_lr - base_lr * 0.01) / 2 * (1 + math.cos(math.pi * min(done + 1, total) / total))
            c = lr * math.sqrt(1 - B2 ** (done + 1)) / (1 - B1 ** (done + 1))
            for x, ps, ms, vs in state:
                z = torch.baddbmm(ps[1], x[:, idx], ps[0])
                loss = (-(F.log_softmax(z, 2) * hd).sum(2) @ hwb
                        - (F.log_softmax(z / args.temperature, 2) * sd).sum(2) @ swb * t2) / norm
                loss.sum().backward()
                with torch.no_grad():
                    for p, m, v in zip(ps, ms, vs):
                        grad = p.grad.add(p, alpha=args.weight_decay)
                        m.mul_(B1).add_(grad, alpha=1 - B1)
                        v.mul_(B2).addcmul_(grad, grad, value=1 - B2)
                        p.addcdiv_(m, v.sqrt().add_(EPS), value=-c)
                        p.grad = None
            done += 1
    out = [None] * len(inputs)
    for g, (_, ps, _, _) in zip(groups, state):
        for j, h in enumerate(g):
            out[h] = (ps[0][j, :inputs[h].shape[1]].detach(), ps[1][j, 0].detach())
    return out


def java_init(width, k, seed):
    """LinearHeads' initial weights: He-normal from java.util.Random(seed), generated class by class."""
    r, std = JavaRandom(seed), math.sqrt(2.0 / width)
    w = np.array([[r.next_gaussian() * std for _ in range(width)] for _ in range(k)], np.float32)
    return w.T.copy(), np.zeros(k, np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, help="TorchScript stage bundle folder (backbone.json)")
    ap.add_argument("--data", required=True, help="persona folder: labelled/<class>/, unlabelled/, test/<class>/")
    ap.add_argument("--labels", default="all", help="all | none | FRACTION | NN%% (per class, seeded; default all)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--batch", type=int, default=64, help="frozen-pass and training batch (default 64)")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--pseudo-threshold", type=float, default=0.8)
    ap.add_argument("--cells", type=int, default=4, help="grid cells per side of the exits (default 4)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--isa", help="cap oneDNN's instruction set (ONEDNN_MAX_CPU_ISA, e.g. AVX2, as the Java "
                    "engine guard does on CPUs whose AVX-512 kernels fail its self-check)")
    ap.add_argument("--mode", choices=["batched", "loop", "both"], default="both",
                    help="heads as one batched product per step, one head at a time, or both (default)")
    ap.add_argument("--decode", choices=["java", "raw"], default="java",
                    help="greyscale PNGs as Java's getRGB sees them (sRGB-encoded, default) or raw samples")
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions (median reported; default 3)")
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
        sys.exit(f"{root}: not a TorchScript stage bundle (format {bb.get('format')!r})")
    stages = [torch.jit.load(str(root / s["file"])).eval() for s in bb["stages"]]
    classifier = torch.jit.load(str(root / bb["classifier"]["file"])).eval()
    t0 = time.perf_counter()
    xtr, used, given, xev, ev_labels = prepare(args, bb)
    decode_s = time.perf_counter() - t0
    xtr, xev = torch.from_numpy(xtr), torch.from_numpy(xev)
    names = bb["classes"]
    shapes = [s["outputShape"] for s in bb["stages"]]
    exits = list(range(len(stages) - 1))  # --exits auto: a grid head after every stage but the last
    requests = {}
    for si, cells in [(i, args.cells) for i in exits] + [(len(stages) - 1, 2)]:
        pool, width = grid_pool(shapes[si], cells)
        requests[(si, cells)] = (si, pool, width)
    # label space: the person's labelled classes (backbone order, then new ones); without labels the
    # teacher's confident classes are needed, which this peer leaves to the Java job
    labelled = [l for l in used if l is not None]
    if not labelled:
        sys.exit("this peer needs some labels (--labels all or a fraction); 'none' is not mirrored")
    space = [c for c in names if c in labelled] + sorted({l for l in labelled if l not in names})
    bidx = [names.index(c) if c in names else -1 for c in space]
    k, n = len(space), len(used)
    lab = torch.tensor([space.index(l) if l else -1 for l in used])
    counts = torch.bincount(lab[lab >= 0], minlength=k).float()
    lab_w = torch.where(lab >= 0, len(labelled) / (int((counts > 0).sum()) * counts[lab.clamp(min=0)]),
                        torch.zeros(n))
    # initial weights (java.util.Random, untimed: Java draws them in microseconds) and the classifier rows
    inits = {h: [torch.from_numpy(a) for a in java_init(requests[(h, args.cells)][2], k, args.seed * 1000 + j)]
             for j, h in enumerate(exits)}
    fw, fb = [torch.from_numpy(a) for a in java_init(requests[(len(stages) - 1, 2)][2], k, args.seed * 1000 + 500)]
    cw = [p.detach() for p in classifier.parameters() if p.dim() == 2]
    cb = [p.detach() for p in classifier.parameters() if p.dim() == 1]
    if len(cw) == 1 and len(cb) == 1 and cw[0].shape == (len(names), shapes[-1][0]):
        cells = fw.shape[0] // shapes[-1][0]
        for j, b in enumerate(bidx):
            if b >= 0:
                fw[:, j] = (cw[0][b] / cells).repeat_interleave(cells)
                fb[j] = cb[0][b]

    def train(rows, batched):
        """Re-fit the final exit on the labels, let it teach, train the exits (PersonalisationJob.run)."""
        fin = rows[(len(stages) - 1, 2)]
        onehot = torch.nn.functional.one_hot(lab.clamp(min=0), k).float() * (lab >= 0).unsqueeze(1)
        zeros = torch.zeros(n, k)
        (w, b), = fit(torch, [fin], [(fw, fb)], (onehot, lab_w, zeros, torch.zeros(n)), args,
                      args.lr * REFIT_LR_SCALE, args.seed + 17, batched)
        with torch.no_grad():
            p = torch.softmax(fin @ w + b, 1)
            teacher = torch.log(p.clamp(min=1e-12))
            q = torch.softmax(teacher, 1)
            conf, arg = q.max(1)
            unl = lab < 0
            pseudo, distil = unl & (conf >= args.pseudo_threshold), unl & (conf < args.pseudo_threshold)
            taught = int(pseudo.sum() + distil.sum())
            tw = min(1.0, len(labelled) / taught) if taught else 1.0
            hard = torch.where(pseudo.unsqueeze(1), torch.nn.functional.one_hot(arg, k).float(), onehot)
            hw = torch.where(pseudo, torch.full((n,), tw), lab_w)
            soft = torch.where(distil.unsqueeze(1), torch.softmax(teacher / args.temperature, 1), zeros)
            sw = torch.where(distil, torch.full((n,), tw), torch.zeros(n))
        heads = fit(torch, [rows[(h, args.cells)] for h in exits], [inits[h] for h in exits], (hard, hw, soft, sw),
                    args, args.lr, args.seed, batched)
        return (w, b), heads, int(pseudo.sum()), int(distil.sum())

    variants = {"batched": [True], "loop": [False], "both": [True, False]}[args.mode]
    runs, results = [], {}
    for rep in range(args.warmup + args.repeats):
        t = time.perf_counter()
        rows, logits = frozen_pass(torch, stages, classifier, xtr, requests, args.batch)
        run = {"frozen_pass_s": time.perf_counter() - t}
        for batched in variants:
            t = time.perf_counter()
            results[batched] = train(rows, batched)
            run["head_training_s" if batched else "head_training_loop_s"] = time.perf_counter() - t
        runs.append(run)
    timed = runs[args.warmup:] or runs
    med = {key: statistics.median(r[key] for r in timed) for key in timed[0]}
    # evaluation on the held-out images (untimed, as in the Java job)
    (fw2, fb2), heads, n_pseudo, n_distil = results.get(True) or results[False]
    erows, elogits = frozen_pass(torch, stages, classifier, xev, requests, args.batch)
    truth = torch.tensor([space.index(l) if l in space else -2 for l in ev_labels])
    acc = lambda z: float((z.argmax(1) == truth).float().mean()) if len(truth) else float("nan")
    report = {
        "peer": "tools/peer-personalise.py", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "ld_preload": os.environ.get("LD_PRELOAD"),
        "config": {"backbone": str(root), "data": args.data, "labels": args.labels, "seed": args.seed,
                   "epochs": args.epochs, "learning_rate": args.lr, "refit_lr": args.lr * REFIT_LR_SCALE,
                   "weight_decay": args.weight_decay, "batch_size": args.batch, "temperature": args.temperature,
                   "pseudo_label_threshold": args.pseudo_threshold, "decode": args.decode, "mode": args.mode,
                   "exits": [f"{bb['stages'][h]['name']}:grid{'' if args.cells == 4 else args.cells}" for h in exits],
                   "final": f"{bb['stages'][-1]['name']}:grid2 (re-fitted)", "warmup": args.warmup,
                   "repeats": args.repeats},
        "train_images": n, "labels_used": len(labelled), "pseudo_labelled": n_pseudo, "distilled": n_distil,
        "eval_images": len(ev_labels), "label_space": space, "decode_s": round(decode_s, 3),
        "timing": {**{k2: round(v, 4) for k2, v in med.items()},
                   "frozen_pass_ms_per_image": round(1000 * med["frozen_pass_s"] / n, 4),
                   "total_s": round(med["frozen_pass_s"] + med.get("head_training_s", med.get("head_training_loop_s")), 4),
                   "runs": [{k2: round(v, 4) for k2, v in r.items()} for r in runs]},
        "generic_accuracy": float((elogits.argmax(1) == torch.tensor([names.index(l) if l in names else -1
                                                                        for l in ev_labels])).float().mean()),
        "personalised_final_accuracy": acc(erows[(len(stages) - 1, 2)] @ fw2 + fb2),
        "exits": [{"stage": bb["stages"][h]["name"], "width": requests[(h, args.cells)][2],
                   "accuracy": round(acc(erows[(h, args.cells)] @ w + b), 4)} for h, (w, b) in zip(exits, heads)],
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        t = report["timing"]
        print(f"{n} training images ({len(labelled)} labelled, {n_pseudo} pseudo-labelled, {n_distil} distilled), "
              f"{torch.get_num_threads()} threads")
        print(f"frozen pass {t['frozen_pass_s']:.3f} s ({t['frozen_pass_ms_per_image']:.3f} ms/image)" +
              "".join(f", {k2} {t[k2]:.3f} s" for k2 in ("head_training_s", "head_training_loop_s") if k2 in t))
        print(f"generic {report['generic_accuracy']:.3f}, personalised final {report['personalised_final_accuracy']:.3f}, "
              "exits " + " ".join(f"{e['stage']} {e['accuracy']:.3f}" for e in report["exits"]))


if __name__ == "__main__":
    main()
