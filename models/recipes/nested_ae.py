"""nested-ae: one convolutional autoencoder with latents at 8x, 16x and 32x spatial compression
(task image-autoencoder), after CAT's nested design: one model, three ratios.

Design (why):
- One encoder trunk (space-to-depth to /4, then one halving per depth) is read by latent heads at depth
  /8, /16 and /32, so the three ratios are successive depths of the same network.
- Every ratio has the same number of latent channels (16), so one diffusion transformer can work on
  all three latent grids; only the token count changes (for 256x256: 32x32, 16x16 or 8x8 cells).
- Each ratio also has a linear path: an r x r patch transform and its inverse, initialised from a
  whitened PCA of training patches. The non-linear heads start at zero, so training starts from a good
  linear codec (PCA keeps ~99% / 97% / 94% of patch variance at 8x / 16x / 32x) and only has to learn
  the corrections; this is what lets the model train well on a single CPU core in minutes. Whitening
  gives every latent channel roughly unit variance, which the diffusion model wants.
- The decoder is nested like the encoder: a ratio-specific lift brings the latent to the /8 grid and
  one shared trunk turns it into a full-resolution correction of the linear reconstruction.
- No normalisation layers: results do not depend on batch composition, and the ONNX graphs stay plain
  convolutions (dynamic spatial axes just work).
Exported as six graphs: encoder_8x/16x/32x (each truncated at its depth) and decoder_8x/16x/32x.
Images are float32 NCHW RGB in [0, 1]; height and width multiples of 32.

  /usr/bin/python3 models/recipes/nested_ae.py train  [--device auto|cpu|cuda] [--minutes M | --steps N]
  /usr/bin/python3 models/recipes/nested_ae.py export [--weights PATH]
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from common import DATA_DIR, log

NAME = "nested-ae"
SEED = 20251128
RATIOS = (8, 16, 32)
LATENT_CHANNELS = 16
TRAIN = {"batch": 16, "crop": 64, "peakLr": 1e-3, "linearLrFactor": 0.1, "warmupSteps": 100,
         "minLrFraction": 0.05, "gradClip": 1.0, "downscaleAugmentProb": 0.5}
EVAL_CROP = 64


# ---------------------------------------------------------------- model


class ResBlock(nn.Module):
    """x + conv(act(conv(act(x)))); `mid` < channels makes a cheaper bottleneck block."""

    def __init__(self, ch: int, mid: int | None = None):
        super().__init__()
        mid = mid or ch
        self.conv1 = nn.Conv2d(ch, mid, 3, padding=1)
        self.conv2 = nn.Conv2d(mid, ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # every block starts as the identity
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Down(nn.Sequential):
    """Halves the resolution: strided 3x3 convolution, then a residual block."""

    def __init__(self, cin: int, cout: int, mid: int | None = None):
        super().__init__(nn.Conv2d(cin, cout, 3, stride=2, padding=1), ResBlock(cout, mid))


class Up(nn.Module):
    """Doubles the resolution: nearest-neighbour upsampling then a 3x3 convolution (no checkerboard)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Head(nn.Sequential):
    """Features -> latent (or latent -> features)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))


class NestedAE(nn.Module):
    def __init__(self, z: int = LATENT_CHANNELS):
        super().__init__()
        c4, c8 = 64, 96  # widths at /4 and at /8 and deeper (small enough to train on one CPU core)
        # --- linear path per ratio: a patch transform (r x r patches -> z coefficients) and its inverse,
        # initialised from a whitened PCA of training patches (init_linear_paths). Alone it is a good
        # linear codec; the convolutional paths below learn the non-linear corrections on top of it.
        self.enc_linear = nn.ModuleDict({f"r{r}": nn.Conv2d(3, z, r, stride=r) for r in RATIOS})
        self.dec_linear = nn.ModuleDict({f"r{r}": nn.ConvTranspose2d(z, 3, r, stride=r) for r in RATIOS})
        # --- encoder trunk: lossless space-to-depth to /4 (no full-resolution convolutions), then one
        # halving per depth; the latent heads read depths /8, /16 and /32
        self.stem = nn.Sequential(nn.PixelUnshuffle(4), nn.Conv2d(48, c4, 3, padding=1), ResBlock(c4))
        self.down8 = Down(c4, c8)
        self.down16 = Down(c8, c8)
        self.down32 = Down(c8, c8)
        self.enc_heads = nn.ModuleDict({f"r{r}": Head(c8, z) for r in RATIOS})
        # --- decoder: ratio-specific lift of the latent to the /8 grid, then one shared trunk to a
        # full-resolution correction (depth-to-space at the end, mirroring the stem)
        self.lifts = nn.ModuleDict({
            "r8": nn.Sequential(nn.Conv2d(z, c8, 3, padding=1), ResBlock(c8)),
            "r16": nn.Sequential(nn.Conv2d(z, c8, 3, padding=1), ResBlock(c8), Up(c8, c8), ResBlock(c8)),
            "r32": nn.Sequential(nn.Conv2d(z, c8, 3, padding=1), ResBlock(c8), Up(c8, c8), ResBlock(c8),
                                 Up(c8, c8), ResBlock(c8)),
        })
        self.trunk = nn.Sequential(ResBlock(c8), Up(c8, c4), ResBlock(c4), nn.SiLU(),
                                   nn.Conv2d(c4, 48, 3, padding=1), nn.PixelShuffle(4))
        # the non-linear paths start at zero, so training starts from the linear codec
        for conv in [h[1] for h in self.enc_heads.values()] + [self.trunk[4]]:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def features(self, x: torch.Tensor, ratio: int) -> torch.Tensor:
        h = self.down8(self.stem(x - 0.5))
        if ratio >= 16:
            h = self.down16(h)
        if ratio >= 32:
            h = self.down32(h)
        return h

    def encode(self, x: torch.Tensor, ratio: int) -> torch.Tensor:
        k = f"r{ratio}"
        return self.enc_linear[k](x) + self.enc_heads[k](self.features(x, ratio))

    def encode_all(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """All three latents from one pass through the trunk (training and evaluation)."""
        h8 = self.down8(self.stem(x - 0.5))
        h16 = self.down16(h8)
        h32 = self.down32(h16)
        hs = {8: h8, 16: h16, 32: h32}
        return {r: self.enc_linear[f"r{r}"](x) + self.enc_heads[f"r{r}"](hs[r]) for r in RATIOS}

    def decode(self, z: torch.Tensor, ratio: int) -> torch.Tensor:
        k = f"r{ratio}"
        y = self.dec_linear[k](z) + self.trunk(self.lifts[k](z))
        # clamping only outside training keeps gradients alive for out-of-range outputs
        return y if self.training else y.clamp(0.0, 1.0)


@torch.no_grad()
def init_linear_paths(ae: NestedAE, photos: list[np.ndarray], seed: int, max_patches: int = 200_000) -> dict:
    """Whitened patch PCA per ratio: latent channel k = (patch - mean) . v_k / sqrt(lambda_k), so every
    latent channel starts with unit variance (convenient for the diffusion model); the decoder's
    transposed convolution holds the inverse map. Returns the fraction of variance kept per ratio."""
    rng = np.random.default_rng(seed)
    kept = {}
    for r in RATIOS:
        rows = []
        for im in photos:
            h, w = (im.shape[0] // r) * r, (im.shape[1] // r) * r
            a = im[:h, :w].astype(np.float32) / 255.0
            # patch vectors in the (channel, row, column) order of a Conv2d kernel
            rows.append(a.reshape(h // r, r, w // r, r, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3 * r * r))
        p = np.concatenate(rows)
        if len(p) > max_patches:
            p = p[rng.choice(len(p), max_patches, replace=False)]
        # a flat mean patch (per colour channel) is what a transposed convolution's bias can add back;
        # natural-image patch means are flat anyway
        mean = np.repeat(p.reshape(len(p), 3, r * r).mean(axis=(0, 2)), r * r)
        lam, vec = np.linalg.eigh(np.cov((p - mean).T))
        lam, vec = lam[::-1][:LATENT_CHANNELS], vec[:, ::-1][:, :LATENT_CHANNELS]
        lam = np.maximum(lam, 1e-8)
        enc_w = (vec / np.sqrt(lam)).T  # [z, 3*r*r]
        dec_w = (vec * np.sqrt(lam)).T  # [z, 3*r*r]
        k = f"r{r}"
        ae.enc_linear[k].weight.copy_(torch.from_numpy(enc_w.reshape(LATENT_CHANNELS, 3, r, r).astype(np.float32)))
        ae.enc_linear[k].bias.copy_(torch.from_numpy((-(mean @ enc_w.T)).astype(np.float32)))
        ae.dec_linear[k].weight.copy_(torch.from_numpy(dec_w.reshape(LATENT_CHANNELS, 3, r, r).astype(np.float32)))
        ae.dec_linear[k].bias.copy_(torch.from_numpy(mean.reshape(3, r * r)[:, 0].astype(np.float32)))
        kept[f"{r}x"] = round(float(lam.sum() / ((p - p.mean(0)) ** 2).sum(1).mean()), 4)
    return kept


class EncoderGraph(nn.Module):
    def __init__(self, ae: NestedAE, ratio: int):
        super().__init__()
        self.ae, self.ratio = ae, ratio

    def forward(self, image):
        return self.ae.encode(image, self.ratio)


class DecoderGraph(nn.Module):
    def __init__(self, ae: NestedAE, ratio: int):
        super().__init__()
        self.ae, self.ratio = ae, ratio

    def forward(self, latent):
        return self.ae.decode(latent, self.ratio)


def graph_params(ae: NestedAE, ratio: int) -> dict[str, int]:
    k = f"r{ratio}"
    enc = [ae.enc_linear[k], ae.stem, ae.down8, ae.enc_heads[k]]
    enc += [ae.down16] if ratio >= 16 else []
    enc += [ae.down32] if ratio >= 32 else []
    dec = [ae.dec_linear[k], ae.lifts[k], ae.trunk]
    count = lambda mods: sum(p.numel() for m in mods for p in m.parameters())  # noqa: E731
    return {"encoder": count(enc), "decoder": count(dec)}


# ---------------------------------------------------------------- data


def load_photos(split: str) -> list[np.ndarray]:
    from skimage import io

    folder = DATA_DIR / "photos" / split
    files = sorted(folder.glob("*.png"))
    if not files:
        raise SystemExit(f"no photos in {folder}: run models/recipes/data_prep.py --photos first")
    return [io.imread(f)[..., :3] for f in files]


def eval_crops(photos: list[np.ndarray], size: int = EVAL_CROP) -> np.ndarray:
    """Every non-overlapping size x size crop on a grid from the top-left corner, float32 NCHW."""
    crops = []
    for im in photos:
        for y in range(0, im.shape[0] - size + 1, size):
            for x in range(0, im.shape[1] - size + 1, size):
                crops.append(im[y: y + size, x: x + size])
    return np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


class CropSampler:
    """Random training crops on the training device: uniform photo choice, uniform position, random
    horizontal flip, and (with probability p) a 2x-larger crop averaged down, for scale variety."""

    def __init__(self, photos: list[np.ndarray], dev: torch.device, crop: int, p_down: float, seed: int):
        # photos smaller than a crop (scikit-image's 102x102 microaneurysms) cannot give one: skipped
        usable = [im for im in photos if min(im.shape[:2]) >= crop]
        if len(usable) < len(photos):
            log(f"skipping {len(photos) - len(usable)} training photo(s) smaller than {crop} px")
        self.ims = [torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))).to(dev) for im in usable]
        self.crop, self.p_down = crop, p_down
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        out = []
        for _ in range(n):
            im = self.ims[self.rng.integers(len(self.ims))]
            _, h, w = im.shape
            size = self.crop
            if self.rng.random() < self.p_down and min(h, w) >= 2 * size:
                size = 2 * size
            y, x = self.rng.integers(h - size + 1), self.rng.integers(w - size + 1)
            c = im[:, y: y + size, x: x + size].float() / 255.0
            if size != self.crop:
                c = F.avg_pool2d(c[None], 2)[0]
            if self.rng.random() < 0.5:
                c = c.flip(-1)
            out.append(c)
        return torch.stack(out)


@torch.no_grad()
def evaluate(ae: NestedAE, crops: np.ndarray, dev: torch.device, batch: int = 64) -> dict:
    """PSNR (two ways), SSIM and latent statistics per ratio on held-out crops."""
    from skimage.metrics import structural_similarity

    ae.eval()
    sq_err = {r: [] for r in RATIOS}
    ssim = {r: [] for r in RATIOS}
    lat = {r: [] for r in RATIOS}
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(crops[i: i + batch]).to(dev)
        zs = ae.encode_all(x)
        for r in RATIOS:
            y = ae.decode(zs[r].float(), r).float()
            sq_err[r].append(((y - x) ** 2).mean(dim=(1, 2, 3)).cpu().numpy())
            lat[r].append(zs[r].float().cpu().numpy())
            yn, xn = y.cpu().numpy().transpose(0, 2, 3, 1), x.cpu().numpy().transpose(0, 2, 3, 1)
            for a, b in zip(xn, yn):
                ssim[r].append(structural_similarity(a, b, channel_axis=2, data_range=1.0))
    ae.train()
    res = {}
    for r in RATIOS:
        mse = np.concatenate(sq_err[r])
        z = np.concatenate(lat[r])
        res[f"{r}x"] = {
            # PSNR of the pooled MSE: dominated by the hard crops, so easy flat crops cannot inflate it
            "psnrDb": float(10 * np.log10(1.0 / mse.mean())),
            # mean of per-crop PSNR (per-crop MSE floored at 1e-6, i.e. 60 dB), the more common report
            "meanCropPsnrDb": float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-6)))),
            "ssim": float(np.mean(ssim[r])),
            "latentMean": float(z.mean()),
            "latentStd": float(z.std()),
        }
    return res


# ---------------------------------------------------------------- training


def forward_backward(fn, x, dev) -> dict:
    with common.autocast(dev):
        losses = fn(x)
    sum(losses.values()).backward()
    return losses


def train(args) -> None:
    common.setup(SEED, args.threads)
    dev = common.pick_device(args.device)
    photos = load_photos("train")
    bs, crop = args.batch or TRAIN["batch"], TRAIN["crop"]
    sampler = CropSampler(photos, dev, crop, TRAIN["downscaleAugmentProb"], SEED)
    log(f"training photos: {len(photos)}")

    ae = NestedAE()
    kept = init_linear_paths(ae, photos, SEED)
    log(f"linear paths initialised from patch PCA; variance kept: {kept}")
    ae = ae.to(dev)
    if dev.type == "cuda":
        ae = ae.to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in ae.parameters())
    log(f"parameters: {n_params:,}  per graph: { {r: graph_params(ae, r) for r in RATIOS} }")
    # the linear paths start near their optimum: they move at a tenth of the learning rate
    linear = [p for n, p in ae.named_parameters() if n.startswith(("enc_linear", "dec_linear"))]
    rest = [p for n, p in ae.named_parameters() if not n.startswith(("enc_linear", "dec_linear"))]
    groups = [{"params": rest, "lr_factor": 1.0}, {"params": linear, "lr_factor": TRAIN["linearLrFactor"]}]
    opt = torch.optim.AdamW(groups, lr=TRAIN["peakLr"], weight_decay=0.0,
                            **({"fused": True} if dev.type == "cuda" else {}))

    def step_loss(x):
        zs = ae.encode_all(x)
        # equal weights: each ratio is a product the CAT service can choose
        return {r: F.mse_loss(ae.decode(zs[r], r).float(), x) for r in RATIOS}

    step_fn = step_loss
    if dev.type == "cuda" and args.compile and hasattr(torch, "compile"):
        step_fn = torch.compile(step_loss)
        log("using torch.compile")

    budget = common.StepBudget(args.minutes, args.steps)
    t0 = time.time()
    step, ema = 0, None
    while True:
        lr = TRAIN["peakLr"] * common.warmup_cosine(step, budget.horizon, TRAIN["warmupSteps"],
                                                    TRAIN["minLrFraction"])
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_factor"]
        x = sampler.batch(bs)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        try:
            losses = forward_backward(step_fn, x, dev)
        except Exception as e:  # a torch.compile problem shows on the first step: go on without it
            if step_fn is step_loss or step > 0:
                raise
            log(f"torch.compile failed ({type(e).__name__}: {e}); continuing eagerly")
            step_fn = step_loss
            opt.zero_grad(set_to_none=True)
            losses = forward_backward(step_fn, x, dev)
        torch.nn.utils.clip_grad_norm_(ae.parameters(), TRAIN["gradClip"])
        opt.step()
        if step % 100 == 0 or budget.done(step):
            psnr = {r: round(-10 * math.log10(max(v.item(), 1e-10)), 2) for r, v in losses.items()}
            ema = psnr if ema is None else {r: round(0.9 * ema[r] + 0.1 * psnr[r], 2) for r in RATIOS}
            if step % 500 == 0:
                log(f"step {step}/{budget.total or '?'} lr {lr:.2e} train PSNR {psnr} (ema {ema})")
        budget.tick(step)
        if budget.done(step):
            break
        step += 1
    seconds = time.time() - t0
    steps = step + 1
    ev = {}
    if not args.skip_eval:
        ev = evaluate(ae, eval_crops(load_photos("heldout")), dev)
        log(f"held-out: {ev}")
    record = common.training_record(
        dev, seconds, steps, batch=bs, trainCropPsnrEmaDb={f"{r}x": v for r, v in (ema or {}).items()},
        heldOutAtTrainEnd=ev, parameters=n_params, trainPhotos=len(photos), pcaVarianceKept=kept,
        **{k: v for k, v in TRAIN.items() if k != "batch"},
    )
    common.save_weights(ae, Path(args.weights), record)


# ---------------------------------------------------------------- export


def test_image(h: int, w: int) -> np.ndarray:
    """A smooth deterministic colour pattern with an edge, rounded to 3 decimals (compact JSON)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xx / 3.0)
    g = 0.5 + 0.4 * np.cos(yy / 4.0)
    b = np.where(xx + yy > (h + w) / 2, 0.8, 0.2)
    return np.round(np.stack([r, g, b])[None], 3).astype(np.float32)


def export(args) -> None:
    common.setup(SEED, args.threads)
    dev = torch.device("cpu")
    ae = NestedAE()
    record = common.load_weights(ae, Path(args.weights))
    ae.eval()
    held = load_photos("heldout")
    crops = eval_crops(held)
    log(f"evaluating on {len(crops)} held-out {EVAL_CROP}x{EVAL_CROP} crops from {len(held)} photos ...")
    ev = evaluate(ae, crops, dev)
    ae.eval()
    for r in RATIOS:
        log(f"{r}x: {ev[f'{r}x']}")

    out = common.model_dir(NAME)
    graphs, cases = {}, []
    img_axes = {0: "batch", 2: "height", 3: "width"}
    lat_axes = {0: "batch", 2: "latent_height", 3: "latent_width"}
    ref_sizes = {8: (16, 16), 16: (16, 16), 32: (32, 32)}  # smallest inputs that exercise each graph
    for r in RATIOS:
        enc, dec = f"encoder_{r}x", f"decoder_{r}x"
        graphs[enc], graphs[dec] = f"{enc}.onnx", f"{dec}.onnx"
        common.export_onnx(EncoderGraph(ae, r), (torch.rand(1, 3, 64, 64),), out / graphs[enc], ["image"],
                           ["latent"], {"image": img_axes, "latent": lat_axes})
        common.export_onnx(DecoderGraph(ae, r), (torch.randn(1, LATENT_CHANNELS, 64 // r, 64 // r),),
                           out / graphs[dec], ["latent"], ["image"], {"latent": lat_axes, "image": img_axes})
        with torch.no_grad():
            img = test_image(*ref_sizes[r])
            z = ae.encode(torch.from_numpy(img), r).numpy()
            cases.append({"graph": enc, "inputs": {"image": common.tensor_json(img)},
                          "outputs": {"latent": common.tensor_json(z)}, "tolerance": 1e-3})
            zr = np.round(z, 3).astype(np.float32)
            y = ae.decode(torch.from_numpy(zr), r).numpy()
            cases.append({"graph": dec, "inputs": {"latent": common.tensor_json(zr)},
                          "outputs": {"image": common.tensor_json(y)}, "tolerance": 1e-4})
    common.write_reference(out, cases)

    inputs = [common.io_spec("image", "float32", ["batch", 3, "height", "width"])]
    manifest = {
        "name": NAME,
        "version": "1",
        "task": "image-autoencoder",
        "description": "nested convolutional autoencoder: one encoder trunk with latents at 8x, 16x and 32x "
                       "spatial compression (CAT-style), a decoder per ratio; trained on Debian-packaged photos",
        "graphs": graphs,
        # every encoder graph takes `image` and gives `latent`; every decoder graph the reverse
        "inputs": inputs,
        "outputs": [common.io_spec("latent", "float32", ["batch", LATENT_CHANNELS, "latent_height",
                                                         "latent_width"])],
        "graphIO": {
            **{f"encoder_{r}x": {"inputs": inputs, "outputs": [common.io_spec(
                "latent", "float32", ["batch", LATENT_CHANNELS, f"height/{r}", f"width/{r}"])]} for r in RATIOS},
            **{f"decoder_{r}x": {"inputs": [common.io_spec(
                "latent", "float32", ["batch", LATENT_CHANNELS, "latent_height", "latent_width"])],
                "outputs": [common.io_spec("image", "float32", ["batch", 3, f"latent_height*{r}",
                                                                 f"latent_width*{r}"])]} for r in RATIOS},
        },
        "preprocessing": {
            "kind": "image-nchw",
            "colorSpace": "RGB",
            "layout": "NCHW",
            "dtype": "float32",
            "range": [0.0, 1.0],
            "note": "pixel / 255, no mean/std normalisation; height and width multiples of 32 (8 or 16 suffice "
                    "for the 8x and 16x graphs); decoders output the same range, clamped to [0, 1]",
            "sizeMultiple": 32,
        },
        "autoencoder": {
            "ratios": list(RATIOS),
            "latentChannels": {f"{r}x": LATENT_CHANNELS for r in RATIOS},
            "nested": "latent_r = linear_r(image) + head_r(trunk features at depth /r) for r = 8, 16, 32 "
                      "(one encoder trunk); image = linear_r^-1(latent) + shared_trunk(lift_r(latent)); the "
                      "linear paths start as a whitened patch PCA, so latent channels have ~unit variance",
            "latentStats": {f"{r}x": {"mean": round(ev[f"{r}x"]["latentMean"], 5),
                                      "std": round(ev[f"{r}x"]["latentStd"], 5)} for r in RATIOS},
            "parametersPerGraph": {f"{r}x": graph_params(ae, r) for r in RATIOS},
        },
        "provenance": {
            "recipe": "models/recipes/nested_ae.py",
            "data": "photographs from Debian packages: python3-skimage bundled data images, mate-backgrounds "
                    "(nature), plasma-workspace-wallpapers, lomiri-wallpapers, lomiri-wallpapers-20.04 "
                    "(photographs only), longer side scaled to <= 640 px; whole photos held out "
                    f"(train {record.get('trainPhotos', '?')}, held out {len(held)}); random "
                    f"{TRAIN['crop']}x{TRAIN['crop']} crops with flips and 2x downscaling for training",
            "licence": "weights: same licence as this repository; photos: the licences of their Debian "
                       "packages (scikit-image data: BSD-3-Clause / public domain / CC0 as listed in "
                       "skimage/data/README.txt; wallpapers: GPL / CC-BY-SA per "
                       "/usr/share/doc/<package>/copyright)",
            "createdAt": common.now_iso(),
            "training": record,
        },
        "metrics": {
            **{f"heldOutPsnrDb{r}x": round(ev[f"{r}x"]["psnrDb"], 3) for r in RATIOS},
            **{f"heldOutSsim{r}x": round(ev[f"{r}x"]["ssim"], 4) for r in RATIOS},
            **{f"heldOutMeanCropPsnrDb{r}x": round(ev[f"{r}x"]["meanCropPsnrDb"], 3) for r in RATIOS},
            "heldOutCrops": int(len(crops)),
            "evaluation": f"every non-overlapping {EVAL_CROP}x{EVAL_CROP} grid crop of {len(held)} held-out "
                          "photos; psnrDb = 10*log10(1/MSE pooled over all crops); meanCropPsnrDb = mean of "
                          "per-crop PSNR (capped at 60 dB); SSIM = skimage structural_similarity "
                          "(data_range 1, per channel, mean over crops); fp32 on CPU",
        },
    }
    common.write_manifest(out, manifest)


def main() -> None:
    common.run_stages(__doc__, NAME, {"train": train, "export": export}, skip_eval=True)

if __name__ == "__main__":
    main()
