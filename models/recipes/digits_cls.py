"""digits-cls: a small CNN that classifies handwritten digits 0-9 (task image-classifier).

Data: scikit-learn's bundled digits (sklearn.datasets.load_digits, package python3-sklearn): 1,797
8x8 images with 17 grey levels. They are scaled to [0, 1] (value / 16) and upsampled bilinearly to
32x32, the size the digit generator works at, so the classifier can score generated digits. Strokes are
bright (1) on a dark background (0). A stratified 20% split is held out.

Training uses small random shifts, rotations and scalings (generated digits are not centred the way
the scanned ones are). Small enough to train on a CPU in about a minute.

  /usr/bin/python3 models/recipes/digits_cls.py train  [--device auto|cpu|cuda] [--epochs N]
  /usr/bin/python3 models/recipes/digits_cls.py export [--weights PATH]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from common import WEIGHTS_DIR, log

NAME = "digits-cls"
SEED = 20251129
SIZE = 32
TRAIN = {"epochs": 60, "batch": 64, "peakLr": 2e-3, "weightDecay": 1e-4, "heldOutFraction": 0.2}


class DigitNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16x16
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8x8
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 4x4
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 16, 128), nn.ReLU(),
                                        nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class ExportWrapper(nn.Module):
    def __init__(self, net: DigitNet):
        super().__init__()
        self.net = net

    def forward(self, image):
        logits = self.net(image)
        return logits, torch.softmax(logits, dim=-1)


def load_data():
    """(x_train, y_train, x_held, y_held) as float32 [n,1,32,32] in [0,1] and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).numpy()
    y = d.target.astype(np.int64)
    xt, xh, yt, yh = train_test_split(x, y, test_size=TRAIN["heldOutFraction"], stratify=y, random_state=SEED)
    return xt, yt, xh, yh


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random affine per image: rotation +-12 degrees, scale 0.85-1.15, shift +-3 px."""
    n = x.shape[0]
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=gen)  # noqa: E731
    ang, sc = u(-12, 12) * math.pi / 180, u(0.85, 1.15)
    tx, ty = u(-3, 3) * 2 / SIZE, u(-3, 3) * 2 / SIZE
    theta = torch.stack([
        torch.stack([torch.cos(ang) / sc, -torch.sin(ang) / sc, tx], 1),
        torch.stack([torch.sin(ang) / sc, torch.cos(ang) / sc, ty], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


@torch.no_grad()
def accuracy(net: DigitNet, x: np.ndarray, y: np.ndarray) -> float:
    net.eval()
    pred = net(torch.from_numpy(x)).argmax(1).numpy()
    net.train()
    return float((pred == y).mean())


def train(args) -> None:
    common.setup(SEED, args.threads)
    dev = common.pick_device(args.device)
    xt, yt, xh, yh = load_data()
    log(f"train {len(xt)}, held out {len(xh)}")
    net = DigitNet().to(dev)
    epochs = args.epochs or TRAIN["epochs"]
    steps_per_epoch = math.ceil(len(xt) / TRAIN["batch"])
    opt = torch.optim.AdamW(net.parameters(), lr=TRAIN["peakLr"], weight_decay=TRAIN["weightDecay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, TRAIN["peakLr"], total_steps=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)
    xt_t, yt_t = torch.from_numpy(xt), torch.from_numpy(yt)
    t0 = time.time()
    for epoch in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), TRAIN["batch"]):
            idx = perm[i: i + TRAIN["batch"]]
            x = augment(xt_t[idx], gen).to(dev)
            loss = F.cross_entropy(net(x), yt_t[idx].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            log(f"epoch {epoch + 1}/{epochs} loss {loss.item():.4f} held-out acc "
                f"{accuracy(net.cpu(), xh, yh):.4f}")
            net.to(dev)
    net.cpu()
    record = common.training_record(dev, time.time() - t0, epochs * steps_per_epoch, epochs=epochs,
                                    **{k: v for k, v in TRAIN.items() if k != "epochs"})
    common.save_weights(net, Path(args.weights), record)


def export(args) -> None:
    common.setup(SEED, args.threads)
    net = DigitNet()
    record = common.load_weights(net, Path(args.weights))
    net.eval()
    xt, yt, xh, yh = load_data()
    acc = accuracy(net, xh, yh)
    net.eval()
    log(f"held-out accuracy {acc:.4f} ({len(xh)} images)")

    out = common.model_dir(NAME)
    common.export_onnx(ExportWrapper(net), (torch.from_numpy(xh[:2]),), out / "model.onnx", ["image"],
                       ["logits", "probabilities"],
                       {"image": {0: "batch"}, "logits": {0: "batch"}, "probabilities": {0: "batch"}})
    with torch.no_grad():
        x = xh[:2]
        logits, probs = ExportWrapper(net)(torch.from_numpy(x))
    common.write_reference(out, [{
        "graph": "model",
        "inputs": {"image": common.tensor_json(x)},
        "outputs": {"logits": common.tensor_json(logits.numpy()),
                    "probabilities": common.tensor_json(probs.numpy())},
        "tolerance": 1e-4,
        "labels": [int(v) for v in yh[:2]],
    }])
    manifest = {
        "name": NAME,
        "version": "1",
        "task": "image-classifier",
        "description": "small CNN classifying 32x32 grayscale handwritten digits 0-9 (scikit-learn digits)",
        "graphs": {"model": "model.onnx"},
        "inputs": [common.io_spec("image", "float32", ["batch", 1, SIZE, SIZE])],
        "outputs": [common.io_spec("logits", "float32", ["batch", 10]),
                    common.io_spec("probabilities", "float32", ["batch", 10])],
        "preprocessing": {
            "kind": "image-nchw",
            "colorSpace": "grayscale",
            "layout": "NCHW",
            "dtype": "float32",
            "range": [0.0, 1.0],
            "height": SIZE,
            "width": SIZE,
            "polarity": "bright strokes (1.0) on a dark background (0.0)",
            "note": "training images are sklearn digits (8x8, 0-16) divided by 16 and upsampled bilinearly "
                    "(align_corners=false) to 32x32",
        },
        "classifier": {"labels": [str(i) for i in range(10)]},
        "provenance": {
            "recipe": "models/recipes/digits_cls.py",
            "data": "scikit-learn's bundled digits data set (python3-sklearn, sklearn.datasets.load_digits: "
                    "a copy of the UCI optical recognition of handwritten digits test set), stratified 80/20 "
                    "split",
            "licence": "weights: same licence as this repository; data: BSD-3-Clause (scikit-learn) / "
                       "CC BY 4.0 (UCI ML repository)",
            "createdAt": common.now_iso(),
            "training": record,
        },
        "metrics": {"heldOutAccuracy": round(acc, 4), "heldOutImages": int(len(xh)), "trainImages": int(len(xt))},
    }
    common.write_manifest(out, manifest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["train", "export"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="accepted for build_all; unused (tiny model)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    ap.add_argument("--weights", default=str(WEIGHTS_DIR / f"{NAME}.npz"))
    args = ap.parse_args()
    train(args) if args.stage == "train" else export(args)


if __name__ == "__main__":
    main()
