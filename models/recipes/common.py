"""Shared helpers for the model recipes.

Every recipe is split into two stages so that training can happen on a GPU machine that runs a newer
PyTorch while export happens with Debian's python3-torch:

  train  -> weights as a NumPy .npz (version-neutral) + a small JSON log of how the run went
  export -> rebuild the module from the .npz, measure held-out metrics, write ONNX, model.json and
            reference.json under models/<name>/<version>/

The manifest and reference formats are the ones described in models/README.md.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

RECIPES_DIR = Path(__file__).resolve().parent
MODELS_DIR = RECIPES_DIR.parent
REPO_DIR = MODELS_DIR.parent
# Prepared training data and trained weights live here; the folder is gitignored (see .gitignore).
DATA_DIR = RECIPES_DIR / ".data"
WEIGHTS_DIR = DATA_DIR / "weights"

# ONNX opset 17 is the newest that Debian's torch 1.13 exporter writes; it has a native
# LayerNormalization op, which keeps the language-model graph readable for graph analysis.
OPSET = 17


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def setup(seed: int, threads: int | None = None) -> None:
    """Fix every seed and use the given number of CPU threads (default: all cores)."""
    n = threads or os.cpu_count() or 1
    torch.set_num_threads(n)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(name: str) -> torch.device:
    """'auto' takes CUDA when present; asking for CUDA without it is an error, not a silent fallback."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was requested but torch.cuda.is_available() is False")
    dev = torch.device(name)
    log("device:", device_description(dev))
    return dev


def device_description(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def autocast(dev: torch.device):
    """bf16 autocast on CUDA (fast on recent GPUs); plain fp32 on CPU."""
    if dev.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type="cpu", enabled=False)


# ---------------------------------------------------------------- schedules and time budgets


def warmup_cosine(step: int, total: int, warmup: int, floor: float = 0.1) -> float:
    """LR multiplier: linear warmup, then cosine decay to `floor` of the peak at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


class StepBudget:
    """Turns a wall-clock budget into a fixed step count.

    A cosine schedule needs the total step count up front. With --steps the count is given (fully
    reproducible); with --minutes the first `probe` steps are timed (after `skip` warm-up steps, which
    absorb compilation and allocator warm-up) and the count is fixed from that speed. Only the total
    depends on the machine, and it is recorded in the manifest.
    """

    def __init__(self, minutes: float | None, steps: int | None, probe: int = 30, skip: int = 10):
        self.minutes, self.fixed = minutes, steps
        self.total = steps or 0
        self.probe, self.skip = probe, skip
        self.t0 = time.time()
        self.t_skip = None

    @property
    def horizon(self) -> int:
        """Total step count for the LR schedule; very large until the timing probe has fixed it."""
        return self.total or 10**9

    def tick(self, step: int) -> None:
        """Call once after every finished step (0-based index)."""
        if self.fixed:
            return
        if step + 1 == self.skip:
            self.t_skip = time.time()
        elif step + 1 == self.skip + self.probe:
            per_step = (time.time() - self.t_skip) / self.probe
            remaining = self.minutes * 60 - (time.time() - self.t0)
            # keep ~4% of the budget for the final evaluation and saving
            self.total = step + 1 + max(1, int(0.96 * remaining / per_step))
            log(f"timing: {per_step * 1000:.1f} ms/step -> {self.total} steps in {self.minutes} min")

    def done(self, step: int) -> bool:
        return bool(self.total) and step + 1 >= self.total


def gpt_init(model: torch.nn.Module, layers: int, residual_projections: tuple[str, ...]) -> None:
    """GPT-2 initialisation: N(0, 0.02) for linear and embedding weights, zero biases, and the residual
    branches' output projections (names ending in `residual_projections`) scaled down by sqrt(2 * layers)."""
    def init(m: torch.nn.Module) -> None:
        if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, torch.nn.Linear) and m.bias is not None:
            torch.nn.init.zeros_(m.bias)

    model.apply(init)
    for name, p in model.named_parameters():
        if name.endswith(residual_projections):
            torch.nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))


@torch.no_grad()
def window_cross_entropy(model: torch.nn.Module, ids: np.ndarray, ctx: int, vocab: int, dev: torch.device,
                         batch: int = 32) -> tuple[float, np.ndarray] | None:
    """Summed next-token cross-entropy (nats) over non-overlapping `ctx`-token windows of one stream, and the
    predicted tokens; None when the stream is shorter than one window. Each window predicts tokens 1..ctx
    from the tokens before them inside it (the first token of the stream is never a target)."""
    model.eval()
    n = (len(ids) - 1) // ctx
    if n == 0:
        return None
    x_all = torch.from_numpy(ids[: n * ctx].astype(np.int64)).view(n, ctx)
    targets = ids[1: n * ctx + 1].astype(np.int64)
    y_all = torch.from_numpy(targets).view(n, ctx)
    total = 0.0
    for i in range(0, n, batch):
        x, y = x_all[i: i + batch].to(dev), y_all[i: i + batch].to(dev)
        with autocast(dev):
            logits = model(x)
        total += torch.nn.functional.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1),
                                                   reduction="sum").item()
    model.train()
    return total, targets


def language_model_optimizer(model: torch.nn.Module, train: dict, dev: torch.device, is_embedding) -> torch.optim.Optimizer:
    """AdamW with weight decay on the weight matrices except the embeddings (`is_embedding(name)`), none on
    biases, norms and embeddings (GPT-2 practice); fused on CUDA."""
    def decays(name: str, p: torch.Tensor) -> bool:
        return p.dim() >= 2 and not is_embedding(name)

    decay = [p for n, p in model.named_parameters() if decays(n, p)]
    no_decay = [p for n, p in model.named_parameters() if not decays(n, p)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": train["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=train["peakLr"], betas=train["betas"],
        **({"fused": True} if dev.type == "cuda" else {}),
    )


def window_sampler(stream: np.ndarray, ctx: int, batch: int, dev: torch.device, seed: int):
    """Batches of `batch` windows of ctx + 1 tokens drawn uniformly from one token stream (on `dev`),
    returned as (inputs, next-token targets)."""
    data = torch.from_numpy(stream).to(dev)
    offsets = torch.arange(ctx + 1, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)

    def next_batch():
        starts = torch.randint(0, len(stream) - ctx - 1, (batch,), device=dev, generator=gen)
        chunk = data[starts[:, None] + offsets].long()
        return chunk[:, :-1], chunk[:, 1:]

    return next_batch


def run_training(model, opt, next_batch, forward_backward, dev: torch.device, budget: StepBudget, train: dict,
                 compile_model: bool, unit: str) -> tuple[int, float, float | None]:
    """The training loop the language-model recipes share: warmup + cosine LR per step, one batch from
    `next_batch()`, `forward_backward(fn, x, y, dev)` (returns the loss in nats), gradient clipping, AdamW
    step. On CUDA the model runs through torch.compile, with an eager fallback when the first step fails.
    Logs the train loss in bits per `unit` every 500 steps; returns (steps, seconds, EMA of that loss).
    """
    step_fn = model
    if dev.type == "cuda" and compile_model and hasattr(torch, "compile"):
        step_fn = torch.compile(model)
        log("using torch.compile")
    t0 = time.time()
    step, ema = 0, None
    while True:
        lr = train["peakLr"] * warmup_cosine(step, budget.horizon, train["warmupSteps"], train["minLrFraction"])
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = next_batch()
        opt.zero_grad(set_to_none=True)
        try:
            loss = forward_backward(step_fn, x, y, dev)
        except Exception as e:  # a torch.compile problem shows on the first step: go on without it
            if step_fn is model or step > 0:
                raise
            log(f"torch.compile failed ({type(e).__name__}: {e}); continuing eagerly")
            step_fn = model
            opt.zero_grad(set_to_none=True)
            loss = forward_backward(step_fn, x, y, dev)
        torch.nn.utils.clip_grad_norm_(model.parameters(), train["gradClip"])
        opt.step()
        if step % 50 == 0 or budget.done(step):
            li = loss.item() / math.log(2)
            ema = li if ema is None else 0.9 * ema + 0.1 * li
            if step % 500 == 0:
                log(f"step {step}/{budget.total or '?'} lr {lr:.2e} train bits/{unit} {li:.3f} (ema {ema:.3f})")
        budget.tick(step)
        if budget.done(step):
            break
        step += 1
    return step + 1, time.time() - t0, ema


# ---------------------------------------------------------------- command line


def run_stages(doc: str, name: str, stages: dict, skip_eval: bool = False) -> None:
    """The command line of the trained recipes: a stage (train, export, ...) and the options every stage may
    read: device, time or step budget, batch, CPU threads, torch.compile, the weights file (and --skip-eval
    where the export can skip its held-out evaluation). Runs the chosen stage's function with the args."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=list(stages))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--minutes", type=float, default=20.0, help="training budget (ignored with --steps)")
    ap.add_argument("--steps", type=int, default=None, help="fixed step count (reproducible)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    ap.add_argument("--no-compile", dest="compile", action="store_false", help="skip torch.compile on CUDA")
    if skip_eval:
        ap.add_argument("--skip-eval", action="store_true", help="smoke tests: no held-out evaluation")
    ap.add_argument("--weights", default=str(WEIGHTS_DIR / f"{name}.npz"))
    args = ap.parse_args()
    stages[args.stage](args)


# ---------------------------------------------------------------- weights as .npz


SHARD_BYTES = 12 * 1024 * 1024  # files brought back from the GPU machine must stay under 16 MiB each


def _shard_paths(path: Path) -> list[Path]:
    return [path] + sorted(path.parent.glob(f"{path.stem}.part*.npz"))


def save_weights(module: torch.nn.Module, path: Path, extra: dict | None = None) -> None:
    """Saves a state dict as float32 NumPy arrays (readable by any torch version) + a JSON log.

    Large state dicts are split into shards (path, then <stem>.part1.npz, ...) of at most ~12 MB.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in _shard_paths(path):
        if old.exists():
            old.unlink()
    arrays = {k: v.detach().float().cpu().numpy() for k, v in module.state_dict().items()}
    shards, size = [{}], 0
    for k, v in arrays.items():
        if size + v.nbytes > SHARD_BYTES and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][k] = v
        size += v.nbytes
    for i, shard in enumerate(shards):
        p = path if i == 0 else path.with_name(f"{path.stem}.part{i}.npz")
        np.savez(p, **shard)
        log("saved", p, f"({p.stat().st_size / 1e6:.1f} MB)")
    if extra is not None:
        path.with_suffix(".train.json").write_text(json.dumps(extra, indent=2) + "\n")


def load_weights(module: torch.nn.Module, path: Path) -> dict:
    state = {}
    for p in _shard_paths(path):
        with np.load(p) as z:
            state.update({k: torch.from_numpy(z[k]) for k in z.files})
    module.load_state_dict(state)
    info_path = path.with_suffix(".train.json")
    return json.loads(info_path.read_text()) if info_path.exists() else {}


def training_record(dev: torch.device, seconds: float, steps: int, **more) -> dict:
    return {
        "device": device_description(dev),
        "torch": torch.__version__,
        "minutes": round(seconds / 60, 2),
        "steps": steps,
        **more,
    }


# ---------------------------------------------------------------- manifest and references


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def model_dir(name: str, version: str = "1") -> Path:
    d = MODELS_DIR / name / version
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_manifest(out_dir: Path, manifest: dict) -> None:
    """Adds sha256 of every file the manifest names (graphs + preprocessing files) and writes it."""
    files = list(manifest["graphs"].values()) + list(manifest.pop("_extra_files", []))
    manifest["sha256"] = {f: sha256_file(out_dir / f) for f in files}
    (out_dir / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log("wrote", out_dir / "model.json")


def _num(x: float) -> float:
    # 8 significant digits keep float32 values exact enough for a 1e-4 tolerance and files small.
    return float(f"{x:.8g}")


def tensor_json(arr: np.ndarray) -> dict:
    arr = np.asarray(arr)
    if arr.dtype == np.int64:
        return {"dtype": "int64", "dims": list(arr.shape), "data": [int(v) for v in arr.ravel()]}
    arr = arr.astype(np.float32)
    return {"dtype": "float32", "dims": list(arr.shape), "data": [_num(v) for v in arr.ravel()]}


def write_reference(out_dir: Path, cases: list[dict]) -> None:
    (out_dir / "reference.json").write_text(json.dumps({"cases": cases}, separators=(",", ":")) + "\n")
    log("wrote", out_dir / "reference.json", f"({(out_dir / 'reference.json').stat().st_size} bytes)")


def export_onnx(module: torch.nn.Module, args: tuple, path: Path, input_names: list[str],
                output_names: list[str], dynamic_axes: dict) -> None:
    """Exports with the legacy tracing exporter of torch 1.13 and checks the result with onnx."""
    import onnx

    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module, args, str(path), input_names=input_names, output_names=output_names,
            dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(str(path)))
    size = path.stat().st_size
    log("exported", path, f"({size / 1e6:.2f} MB)")
    if size >= 10 * 1024 * 1024:
        raise SystemExit(f"{path} is {size} bytes: artifacts must stay under 10 MB")


def io_spec(name: str, dtype: str, shape: list) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape}


# ---------------------------------------------------------------- decoders with a key/value cache


class WithPastExport(torch.nn.Module):
    """The graph interface of a Hugging Face `text-generation-with-past` export (Optimum): input_ids, an
    attention_mask over past + new tokens, position_ids and past_key_values.<i>.key/value in; logits and
    present.<i>.key/value out. The model provides `forward_with_past(ids, mask, positions, past)` returning
    (logits, [(key, value) per layer])."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = self.model.forward_with_past(input_ids, attention_mask, position_ids, past)
        return (logits, *[t for kv in presents for t in kv])


def cache_names(prefix: str, layers: int) -> list[str]:
    return [f"{prefix}.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def with_past_feeds(ids: np.ndarray, past: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Feeds for one cached step: the new tokens follow `past` tokens, all of them real (mask 1)."""
    b, t = ids.shape
    past_len = past[0].shape[2]
    return {"input_ids": ids, "attention_mask": np.ones((b, past_len + t), dtype=np.int64),
            "position_ids": np.tile(np.arange(past_len, past_len + t, dtype=np.int64), (b, 1)),
            **dict(zip(cache_names("past_key_values", len(past) // 2), past))}


def export_with_past(model: torch.nn.Module, out: Path, layers: int, kv_heads: int, head_dim: int,
                     example_ids: np.ndarray, check_ids: np.ndarray, vocab: int) -> tuple[list[dict], list[dict]]:
    """Exports a decoder with a cache as `out/model.onnx` (dynamic batch, sequence and past axes; traced on
    `example_ids` after 3 random past tokens), checks in torch that an empty cache gives `model(ids, mask)`'s
    logits and that a step fed a prefix's cache gives the full run's last logits, and writes those two runs
    of `check_ids` as `reference.json`. Returns the manifest's input and output specs."""
    wrapper = WithPastExport(model)
    inputs = ["input_ids", "attention_mask", "position_ids", *cache_names("past_key_values", layers)]
    outputs = ["logits", *cache_names("present", layers)]

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            return [o.numpy() for o in wrapper(*(torch.from_numpy(feeds[k]) for k in inputs))]

    example_past = [torch.randn(1, kv_heads, 3, head_dim).numpy() for _ in range(2 * layers)]
    example = with_past_feeds(example_ids, example_past)
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"},
            **{n: {0: "batch_size", 2: "past_sequence_length"} for n in cache_names("past_key_values", layers)},
            **{n: {0: "batch_size", 2: "past_sequence_length + sequence_length"}
               for n in cache_names("present", layers)}}
    export_onnx(wrapper, tuple(torch.from_numpy(example[k]) for k in inputs), out / "model.onnx", inputs, outputs,
                axes)

    empty = [np.zeros((1, kv_heads, 0, head_dim), dtype=np.float32)] * (2 * layers)
    full = with_past_feeds(check_ids, empty)
    full_out = run(full)
    with torch.no_grad():
        ids = torch.from_numpy(check_ids)
        plain = model(ids, torch.ones_like(ids)).numpy()
    gap = float(np.abs(full_out[0] - plain).max())
    log(f"empty cache vs the cache-free forward: max abs logit difference {gap:.2e}")
    assert gap < 1e-4, gap
    split = check_ids.shape[1] - 1
    prefix_out = run(with_past_feeds(check_ids[:, :split], empty))
    step = with_past_feeds(check_ids[:, split:], prefix_out[1:])
    step_out = run(step)
    gap = float(np.abs(step_out[0] - full_out[0][:, split:]).max())
    log(f"cached step vs full run: max abs logit difference {gap:.2e}")
    assert gap < 1e-4, gap
    write_reference(out, [
        {"graph": "model", "inputs": {k: tensor_json(v) for k, v in feeds.items()},
         "outputs": {k: tensor_json(v) for k, v in zip(outputs, results)}, "tolerance": 1e-3}
        for feeds, results in ((full, full_out), (step, step_out))
    ])
    cache_shape = ["batch_size", kv_heads, "past_sequence_length", head_dim]
    return (
        [io_spec("input_ids", "int64", ["batch_size", "sequence_length"]),
         io_spec("attention_mask", "int64", ["batch_size", "past_sequence_length + sequence_length"]),
         io_spec("position_ids", "int64", ["batch_size", "sequence_length"]),
         *[io_spec(n, "float32", cache_shape) for n in cache_names("past_key_values", layers)]],
        [io_spec("logits", "float32", ["batch_size", "sequence_length", vocab]),
         *[io_spec(n, "float32", ["batch_size", kv_heads, "past_sequence_length + sequence_length", head_dim])
           for n in cache_names("present", layers)]],
    )

