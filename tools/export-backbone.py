#!/usr/bin/env python3
"""Export a PyTorch CNN as a PersEPhonEE stage bundle: one TorchScript file per stage plus backbone.json.

Early exits attach *between* stages, so the network is cut at block granularity: every residual block
(ResNet), inverted-residual block (MobileNetV2/V3), MBConv block (EfficientNet) or child of a plain
nn.Sequential becomes a stage; the pooling + flatten + classifier at the end becomes the final
classifier. Each stage is traced in inference mode on the real intermediate tensor, saved, loaded back,
and the chained stages are checked against the whole model's own output before anything is written.

Where the model comes from (one of):
  --model torchvision:NAME        a torchvision architecture (resnet18, mobilenet_v2, mobilenet_v3_small,
                                  efficientnet_b0, ...) with random weights, or --checkpoint weights
  --model FILE.pt                 a whole pickled nn.Module (torch.save(model, FILE))
  --builder FILE.py:FUNCTION      your own function that returns the nn.Module (no arguments), then
                                  --checkpoint FILE loads a state_dict (or {"state_dict": ...}) into it

Examples:
  export-backbone.py --model torchvision:resnet18 --checkpoint resnet18.pth --classes imagenet \\
      --out my-resnet18
  export-backbone.py --builder mynet.py:build --checkpoint best.pt --input 1x28x28 --mean 0.286 \\
      --std 0.353 --resize pad --classes labels.txt --out my-net

Input preprocessing is recorded in the manifest and applied by the lab to every imported image:
  --resize center-crop   scale the shorter side to --resize-to (default size/0.875, i.e. 256 for 224)
                         then cut the centre (torchvision's Resize + CenterCrop)
  --resize pad           fit the whole image, pad with its border colour (good for object-centred data)
Classes: --classes imagenet | fashion-mnist | FILE (one name per line) | "a,b,c"; default class0..classN.

Works with Debian's python3-torch/python3-torchvision (1.13/0.14) and with current PyTorch.
Exit status: 0 written, 1 bad arguments or model, 2 the chained stages do not reproduce the model.
"""
import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile

FORMAT = "persephonee-torchscript-stages"
FORMAT_VERSION = 1
EXPORTER_VERSION = "1"
FMNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class ExportError(Exception):
    pass


def fail(msg, code=1):
    print("export-backbone: " + msg, file=sys.stderr)
    sys.exit(code)


try:
    import torch
    import torch.nn as nn
except ImportError:  # pragma: no cover - depends on the machine
    if "-h" in sys.argv or "--help" in sys.argv:
        print(__doc__)
        sys.exit(0)
    fail("PyTorch is not installed for " + sys.executable + " (Debian: apt-get install python3-torch "
         "python3-torchvision, then run with /usr/bin/python3)")


# ---------------------------------------------------------------- loading the model

def load_model(args):
    if args.model and args.builder:
        raise ExportError("give --model or --builder, not both")
    if args.model and args.model.startswith("torchvision:"):
        name = args.model.split(":", 1)[1]
        try:
            import torchvision.models as tvm
        except ImportError:
            raise ExportError("torchvision is not installed (Debian: apt-get install python3-torchvision)")
        fn = getattr(tvm, name, None)
        if fn is None or not callable(fn) or name.startswith("_") or name[0].isupper() or name in (
                "get_model", "get_model_weights", "get_weight", "list_models"):
            raise ExportError("torchvision has no model '" + name + "'")
        kwargs = {}
        if args.num_classes:
            kwargs["num_classes"] = args.num_classes
        try:
            model = fn(weights=None, **kwargs)
        except TypeError:  # torchvision < 0.13
            model = fn(pretrained=False, **kwargs)
        if args.checkpoint:
            load_checkpoint(model, args.checkpoint, args.trust_checkpoint)
        return model, args.model
    if args.model:
        if not os.path.isfile(args.model):
            raise ExportError(args.model + ": no such file")
        try:
            # a whole pickled model runs code when unpickled: that is what the user asked for here
            obj = torch_load(args.model, True)
        except Exception as e:
            raise ExportError(args.model + ": cannot be read as a PyTorch file (" + first_line(e) + ")")
        if isinstance(obj, torch.jit.ScriptModule):
            raise ExportError(args.model + " is a whole TorchScript file: export from the Python model instead "
                              "(a single TorchScript module cannot be cut into stages)")
        if not isinstance(obj, nn.Module):
            raise ExportError(args.model + " holds a " + type(obj).__name__ + ", not a whole nn.Module: pass "
                              "--builder FILE.py:FUNCTION with --checkpoint " + args.model)
        return obj, os.path.basename(args.model)
    if args.builder:
        if ":" not in args.builder:
            raise ExportError("--builder needs FILE.py:FUNCTION")
        path, func = args.builder.rsplit(":", 1)
        if not os.path.isfile(path):
            raise ExportError(path + ": no such file (named by --builder)")
        spec = importlib.util.spec_from_file_location("persephonee_user_builder", path)
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        spec.loader.exec_module(mod)
        fn = getattr(mod, func, None)
        if fn is None:
            raise ExportError(path + " has no function '" + func + "'")
        model = fn()
        if not isinstance(model, nn.Module):
            raise ExportError(args.builder + " returned " + type(model).__name__ + ", not an nn.Module")
        if args.checkpoint:
            load_checkpoint(model, args.checkpoint, args.trust_checkpoint)
        return model, os.path.basename(path) + ":" + func
    raise ExportError("say where the model comes from: --model torchvision:NAME, --model FILE.pt or --builder")


def torch_load(path, trusted):
    """torch.load that behaves the same on PyTorch 1.13 and 2.x: weights only unless the file is trusted."""
    try:
        return torch.load(path, map_location="cpu", weights_only=not trusted)
    except TypeError:  # PyTorch < 1.13 has no weights_only
        return torch.load(path, map_location="cpu")


def load_checkpoint(model, path, trusted=False):
    if not os.path.isfile(path):
        raise ExportError(path + ": no such file (named by --checkpoint)")
    try:
        state = torch_load(path, trusted)
    except Exception as e:
        hint = "" if trusted else (" -- if it holds more than tensors (a whole model, numpy values, argparse options)"
                                   " and you trust it, add --trust-checkpoint")
        raise ExportError(path + ": cannot be read as a PyTorch checkpoint (" + first_line(e) + ")" + hint)
    if isinstance(state, nn.Module):
        state = state.state_dict()
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ExportError(path + " holds a " + type(state).__name__ + ", not a state_dict")
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise ExportError(path + " does not fit the model: " + " ".join(lines[:2]))


def first_line(e):
    text = str(e).strip()
    return type(e).__name__ + (": " + text.splitlines()[0] if text else "")


# ---------------------------------------------------------------- cutting into stages

def is_container(m):
    return len(list(m.children())) > 0


def expand(prefix, module):
    """A features-like Sequential: a child made only of layers (conv/bn/act) is one stage; a child that is
    a Sequential of blocks (EfficientNet, torchvision ResNet layers) is expanded into its blocks."""
    out = []
    for name, child in module.named_children():
        path = prefix + "." + name if prefix else name
        if isinstance(child, nn.Sequential) and any(is_container(c) for c in child.children()):
            out.extend(expand(path, child))
        else:
            out.append((path, child))
    return out


class Flatten1(nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1)


def split(model):
    """Returns ([(stage name, module)], classifier module, kind)."""
    names = dict(model.named_children())
    if all(k in names for k in ("conv1", "bn1", "relu", "maxpool", "layer1", "fc")):
        stages = [("stem", nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool))]
        for layer in ("layer1", "layer2", "layer3", "layer4"):
            if layer in names:
                for bname, block in getattr(model, layer).named_children():
                    stages.append((layer + "." + bname, block))
        pool = getattr(model, "avgpool", nn.AdaptiveAvgPool2d(1))
        return stages, nn.Sequential(pool, Flatten1(), model.fc), "resnet"
    if "features" in names and "classifier" in names:
        stages = expand("features", model.features)
        if stages and stages[0][0] == "features.0":
            stages[0] = ("stem", stages[0][1])
        pool = getattr(model, "avgpool", None) or nn.AdaptiveAvgPool2d(1)
        return stages, nn.Sequential(pool, Flatten1(), model.classifier), type(model).__name__.lower()
    if isinstance(model, nn.Sequential):
        children = list(model.named_children())
        cut = None
        for i, (_, child) in enumerate(children):
            if isinstance(child, (nn.Flatten, nn.Linear, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                cut = i
                break
        if cut is None or cut == 0:
            raise ExportError("the nn.Sequential has no pooling/Flatten/Linear tail to use as the classifier, "
                              "or nothing before it")
        stages = [("s" + name if name.isdigit() else name, child) for name, child in children[:cut]]
        return stages, nn.Sequential(*[c for _, c in children[cut:]]), "sequential"
    raise ExportError(type(model).__name__ + " is not a ResNet-, features/classifier- (MobileNet, EfficientNet, "
                      "VGG) or nn.Sequential-style model: write a --builder that returns it as an nn.Sequential "
                      "of stages followed by the pooling/flatten/linear classifier")


# ---------------------------------------------------------------- costs

def count(module, x):
    """MACs per example (convolutions and linear layers) and output of module(x)."""
    macs = [0]
    hooks = []

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        macs[0] += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        y = module(x)
    for h in hooks:
        h.remove()
    return macs[0], y


def describe(module):
    name = type(module).__name__
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if name == "Sequential" and convs:
        name = "Conv" if len(convs) == 1 else "Sequential"
    parts = []
    if convs:
        strides = max(c.stride[0] for c in convs)
        parts.append(str(convs[0].in_channels) + "->" + str(convs[-1].out_channels))
        if strides > 1:
            parts.append("stride " + str(strides))
        parts.append(str(len(convs)) + " conv")
    lin = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if lin:
        parts.append("linear " + str(lin[0].in_features) + "->" + str(lin[-1].out_features))
    return name + ("(" + ", ".join(parts) + ")" if parts else "")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- export

def parse_input(text):
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ExportError("--input must look like 3x224x224, got '" + text + "'")
    if c not in (1, 3) or h <= 0 or w <= 0:
        raise ExportError("--input needs 1 or 3 channels and a positive size, got '" + text + "'")
    return c, h, w


def parse_classes(text, n):
    if text is None:
        return ["class" + str(i) for i in range(n)]
    if text == "fashion-mnist":
        names = FMNIST
    elif text == "imagenet":
        try:
            from torchvision.models._meta import _IMAGENET_CATEGORIES
            names = list(_IMAGENET_CATEGORIES)
        except ImportError:
            raise ExportError("this torchvision has no ImageNet class list: pass --classes FILE")
    elif os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        names = [s.strip() for s in text.split(",")]
    if len(names) != n:
        raise ExportError("--classes gives " + str(len(names)) + " names but the model has " + str(n) + " outputs")
    if len(set(names)) != len(names):
        # ImageNet has two 'crane' and two 'maillot': keep names unique
        seen = {}
        uniq = []
        for s in names:
            seen[s] = seen.get(s, 0) + 1
            uniq.append(s if seen[s] == 1 else s + " (" + str(seen[s]) + ")")
        names = uniq
    return names


def floats(text, channels, default, what):
    if text is None:
        return default
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise ExportError("--" + what + " needs comma-separated numbers, got '" + text + "'")
    if len(vals) == 1 and channels == 3:
        vals = vals * 3
    if len(vals) != channels:
        raise ExportError("--" + what + " needs " + str(channels) + " values")
    return vals


def export(args):
    torch.manual_seed(args.seed)
    model, source = load_model(args)
    model.eval()
    c, h, w = parse_input(args.input)
    mean = floats(args.mean, c, IMAGENET_MEAN if c == 3 else [0.5], "mean")
    std = floats(args.std, c, IMAGENET_STD if c == 3 else [0.5], "std")
    if any(s <= 0 for s in std):
        raise ExportError("--std values must be positive")
    resize = args.resize or ("center-crop" if h >= 64 else "pad")
    resize_to = None
    if resize == "center-crop":
        # the shorter side of the image is scaled to this, so it must cover the larger side of the crop
        resize_to = args.resize_to or int(round(max(h, w) / 0.875))
        if resize_to < max(h, w):
            raise ExportError("--resize-to " + str(resize_to) + " is smaller than the " + str(h) + "x" + str(w)
                              + " crop")
    stages, classifier, kind = split(model)
    if len(stages) < 2:
        raise ExportError("the model splits into only " + str(len(stages)) + " stage: exits need at least two")

    x = torch.randn(args.batch, c, h, w, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        try:
            whole = model(x)
        except Exception as e:
            raise ExportError("the model does not run on a " + args.input + " input: " + str(e).splitlines()[0])
    if whole.dim() != 2:
        raise ExportError("the model outputs shape " + str(tuple(whole.shape)) + ", expected (batch, classes)")
    classes = parse_classes(args.classes, whole.shape[1])

    out_dir = os.path.abspath(args.out)
    if os.path.exists(out_dir) and not args.force:
        raise ExportError(out_dir + " exists (use --force to replace it)")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".", dir=parent)
    try:
        os.makedirs(os.path.join(tmp, "stages"))
        entries = []
        cur = x
        parts = stages + [("classifier", classifier)]
        for i, (name, module) in enumerate(parts):
            module.eval()
            macs, y = count(module, cur)
            with torch.no_grad():
                try:
                    traced = torch.jit.trace(module, cur, check_trace=False)
                except Exception as e:
                    raise ExportError("stage '" + name + "' cannot be traced: " + str(e).splitlines()[0])
            safe = "".join(ch if ch.isalnum() else "-" for ch in name)
            rel = "stages/" + format(i, "02d") + "-" + safe + ".pt"
            path = os.path.join(tmp, rel)
            traced.save(path)
            entries.append({
                "name": name,
                "file": rel,
                "sha256": sha256(path),
                "bytes": os.path.getsize(path),
                "outputShape": list(y.shape[1:]),
                "macs": int(macs // args.batch),
                "params": int(sum(p.numel() for p in module.parameters())),
                "description": describe(module),
            })
            cur = y
        # verify: the saved files, loaded back and chained, reproduce the whole model
        chained = x
        with torch.no_grad():
            for e in entries:
                chained = torch.jit.load(os.path.join(tmp, e["file"]), map_location="cpu")(chained)
        diff = (chained - whole).abs().max().item()
        tol = args.tolerance * max(1.0, whole.abs().max().item())
        # the lab runs single images: a stage traced with its batch size baked in must fail here, not there
        one = x[:1]
        with torch.no_grad():
            for e in entries:
                try:
                    one = torch.jit.load(os.path.join(tmp, e["file"]), map_location="cpu")(one)
                except Exception as ex:
                    raise ExportError("stage '" + e["name"] + "' does not run on a single image once traced ("
                                      + first_line(ex) + "): its forward() depends on the batch size", 2)
        diff = max(diff, (one - whole[:1]).abs().max().item())
        if not diff <= tol:
            raise ExportError("the chained stages do not reproduce the model's output (max |difference| "
                              + format(diff, ".3g") + " > " + format(tol, ".3g") + "): its forward() does more "
                              "than run these stages in order; write a --builder returning an nn.Sequential", 2)
        x.numpy().astype("<f4").tofile(os.path.join(tmp, "reference-input.f32"))
        whole.numpy().astype("<f4").tofile(os.path.join(tmp, "reference-output.f32"))
        try:
            import torchvision
            tv = torchvision.__version__
        except ImportError:
            tv = None
        manifest = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "id": args.id or os.path.basename(out_dir),
            "name": args.name or (source + " (TorchScript stages)"),
            "description": args.description or (str(len(entries) - 1) + " stages cut from " + source
                                                + " at block granularity"),
            "input": dict({"channels": c, "height": h, "width": w, "mean": mean, "std": std, "resize": resize},
                          **({"resizeTo": resize_to} if resize_to else {})),
            "classes": classes,
            "stages": entries[:-1],
            "classifier": entries[-1],
            "reference": {"input": "reference-input.f32", "output": "reference-output.f32", "batch": args.batch,
                          "seed": args.seed, "maxAbsDiffPyTorch": diff,
                          "maxAbsOutput": whole.abs().max().item()},
            "producer": {"tool": "tools/export-backbone.py " + EXPORTER_VERSION, "source": source, "kind": kind,
                         "torch": torch.__version__, "torchvision": tv, "python": platform.python_version(),
                         "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        }
        with open(os.path.join(tmp, "backbone.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
            f.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it private
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".old.", dir=parent)
            os.rmdir(old)
            os.rename(out_dir, old)
            try:
                os.rename(tmp, out_dir)
            except OSError:
                os.rename(old, out_dir)  # put the previous export back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    total_macs = sum(e["macs"] for e in entries)
    total_bytes = sum(e["bytes"] for e in entries)
    print("wrote " + out_dir + ": " + str(len(entries) - 1) + " stages + classifier, " + str(len(classes))
          + " classes, " + format(total_macs / 1e6, ".1f") + " M MACs, " + format(total_bytes / 1e6, ".2f")
          + " MB; chained stages match the model (max |diff| " + format(diff, ".2g") + ")")
    return out_dir


def main(argv=None):
    p = argparse.ArgumentParser(prog="export-backbone.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="torchvision:NAME or a whole pickled model FILE.pt")
    p.add_argument("--builder", help="FILE.py:FUNCTION returning your nn.Module")
    p.add_argument("--checkpoint", help="state_dict to load into the model (read with weights_only)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="the checkpoint may hold more than tensors: unpickle it fully (runs its code; only for "
                        "files you trust)")
    p.add_argument("--num-classes", type=int, help="for torchvision:NAME, the classifier's outputs")
    p.add_argument("--input", default="3x224x224", help="CxHxW the model expects (default 3x224x224)")
    p.add_argument("--mean", help="per-channel mean of [0,1] pixels, comma-separated (default ImageNet's)")
    p.add_argument("--std", help="per-channel std, comma-separated (default ImageNet's)")
    p.add_argument("--resize", choices=["center-crop", "pad"], help="how images are fitted (see above)")
    p.add_argument("--resize-to", type=int, help="shorter side before the centre crop (default size/0.875)")
    p.add_argument("--classes", help="imagenet | fashion-mnist | FILE | comma-separated names")
    p.add_argument("--id", help="backbone id (default: the output folder's name)")
    p.add_argument("--name", help="display name")
    p.add_argument("--description", help="one-line description")
    p.add_argument("--out", required=True, help="bundle folder to write (atomically)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--batch", type=int, default=2, help="reference batch traced and stored (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the reference input (default 0)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |difference| (default 1e-4)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        export(args)
    except ExportError as e:
        fail(str(e.args[0]), e.args[1] if len(e.args) > 1 else 1)


if __name__ == "__main__":
    main()
