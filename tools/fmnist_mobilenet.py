#!/usr/bin/env python3
"""A small torchvision MobileNetV2 for 28x28 grayscale Fashion-MNIST, and its training script.

Used to make the committed stage bundle ``sample-models/fmnist-mobilenetv2-ts`` with the exporter,
which also shows the exporter's "your checkpoint plus a builder function" route:

    /usr/bin/python3 tools/fmnist_mobilenet.py train --out /tmp/fmnist-mbv2.pt
    /usr/bin/python3 tools/export-backbone.py --builder tools/fmnist_mobilenet.py:build \\
        --checkpoint /tmp/fmnist-mbv2.pt --input 1x28x28 --mean 0.286 --std 0.353 --resize pad \\
        --classes fashion-mnist --id fmnist-mobilenetv2-ts --out sample-models/fmnist-mobilenetv2-ts

Reads Debian's dataset-fashion-mnist IDX files. Uses training images only for training; reports accuracy
on the 10,000 test images. Seeded; records its configuration next to the checkpoint.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.286, 0.353


def build():
    """torchvision MobileNetV2 (width 1.0) with a 1-channel stride-1 stem and a short block setting for 28x28."""
    from torchvision.models import MobileNetV2
    setting = [
        # t, c, n, s  (expansion, channels, repeats, first stride)
        [1, 16, 1, 1],
        [4, 24, 2, 2],
        [4, 32, 2, 2],
        [4, 64, 2, 2],
        [4, 96, 1, 1],
    ]
    net = MobileNetV2(num_classes=10, width_mult=1.0, inverted_residual_setting=setting,
                      dropout=0.1)
    stem = net.features[0]
    stem[0] = nn.Conv2d(1, 32, 3, 1, 1, bias=False)
    return net


def read_idx(name):
    path = os.path.join(FMNIST_DIR, name + ".gz")
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">i", data[:4])[0]
    if magic == 2051:
        n, h, w = struct.unpack(">iii", data[4:16])
        return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, 1, h, w)
    n = struct.unpack(">i", data[4:8])[0]
    return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).view(n).long()


def augment(x, gen):
    """Random shifts (pad 2 + crop) and photometric jitter (brightness, contrast, blur, noise) on [0,1] images."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28] for i in range(n)])
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(3)
    contrast = 0.4 + 0.8 * torch.rand(n, 1, 1, 1, generator=gen)
    bright = 0.35 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)
    out = (out - 0.5) * contrast + 0.5 + bright
    blur = torch.rand(n, generator=gen) < 0.3
    if blur.any():
        k = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]).view(1, 1, 3, 3) / 16
        out[blur] = F.conv2d(out[blur], k, padding=1)
    noise = 0.08 * torch.rand(n, 1, 1, 1, generator=gen)
    out = out + noise * torch.randn(out.shape, generator=gen)
    return out.clamp(0, 1)


def train(args):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    xtr = read_idx("train-images-idx3-ubyte").float() / 255
    ytr = read_idx("train-labels-idx1-ubyte")
    xte = read_idx("t10k-images-idx3-ubyte").float() / 255
    yte = read_idx("t10k-labels-idx1-ubyte")
    net = build()
    steps = args.epochs * (len(xtr) // args.batch)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=4e-5, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(len(xtr) // args.batch):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            x = (augment(xtr[idx], gen) - MEAN) / STD
            y = ytr[idx]
            z = net(x)
            loss = F.cross_entropy(z, y, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (z.argmax(1) == y).sum().item()
            total += len(idx)
        acc = evaluate(net, xte, yte)
        print(f"epoch {epoch + 1}/{args.epochs} loss {loss_sum / total:.4f} train {correct / total:.4f} "
              f"test {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    torch.save(net.state_dict(), args.out)
    card = {"model": "torchvision MobileNetV2, 1-channel stem, 28x28", "epochs": args.epochs, "batch": args.batch,
            "lr": args.lr, "seed": args.seed, "augment": "shift+flip+contrast+brightness+blur+noise",
            "test_accuracy": evaluate(net, xte, yte), "train_seconds": round(time.time() - t0, 1),
            "torch": torch.__version__}
    with open(args.out + ".json", "w") as f:
        json.dump(card, f, indent=2)
    print(json.dumps(card))


@torch.no_grad()
def evaluate(net, x, y):
    net.eval()
    correct = 0
    for s in range(0, len(x), 500):
        z = net((x[s:s + 500] - MEAN) / STD)
        correct += (z.argmax(1) == y[s:s + 500]).sum().item()
    return correct / len(x)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train on Fashion-MNIST and save a state_dict checkpoint")
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=7)
    t.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    train(args)


if __name__ == "__main__":
    main(sys.argv[1:])
