"""byte-gpt: a small decoder-only transformer over UTF-8 bytes (task language-model).

Trained on English text from Debian packages (see data_prep.py); exported with the logits and the
residual stream entering every block plus the one leaving the last block, so that the layer-pruning
service can measure how much each block changes the stream.

Architecture (why): pre-norm blocks (LayerNorm -> attention / MLP -> residual add) keep the residual
stream a plain sum that can be read between blocks; modules are plain and named (`blocks.<i>.attn`,
`blocks.<i>.mlp`, ...) so ONNX node names carry the layer number (/blocks.3/attn/MatMul ...), which is
how the pruning service finds block boundaries by graph analysis. Learned positional embeddings limit
the sequence to the context length (256 bytes).

  /usr/bin/python3 models/recipes/byte_gpt.py train  [--device auto|cpu|cuda] [--minutes M | --steps N]
  /usr/bin/python3 models/recipes/byte_gpt.py export [--weights PATH]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from common import DATA_DIR, log

NAME = "byte-gpt"
SEED = 20251127
CONFIG = {
    "layers": 8,
    "dModel": 160,
    "heads": 5,
    "mlpHidden": 480,  # 3x d_model (not 4x) keeps the fp32 ONNX graph under 10 MB with 8 blocks
    "contextLength": 256,
    "vocabSize": 256,
}
TRAIN = {"batch": 128, "peakLr": 3e-3, "warmupSteps": 300, "minLrFraction": 0.1, "weightDecay": 0.1,
         "betas": (0.9, 0.95), "gradClip": 1.0}
SOURCES = ("fortunes", "wordnet", "man")
EVAL_CAP_BYTES = 500_000  # held-out bytes evaluated per source (the man-page split is larger)


# ---------------------------------------------------------------- model


class Attention(nn.Module):
    def __init__(self, d: int, heads: int, context: int):
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        mask = torch.tril(torch.ones(context, context, dtype=torch.bool))
        self.register_buffer("causal", mask.view(1, 1, context, context), persistent=False)
        # the fused kernel is used for training where available; export uses the explicit form
        self.fused = hasattr(F, "scaled_dot_product_attention")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q = q.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        if self.fused and not torch.onnx.is_in_onnx_export():
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            att = att.masked_fill(~self.causal[:, :, :t, :t], float("-inf"))
            y = torch.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.fc = nn.Linear(d, hidden)
        self.proj = nn.Linear(hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, hidden: int, context: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads, context)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = MLP(d, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ByteGPT(nn.Module):
    def __init__(self, layers: int, dModel: int, heads: int, mlpHidden: int, contextLength: int,
                 vocabSize: int):
        super().__init__()
        self.tok_emb = nn.Embedding(vocabSize, dModel)
        self.pos_emb = nn.Embedding(contextLength, dModel)
        self.blocks = nn.ModuleList([Block(dModel, heads, mlpHidden, contextLength) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dModel)
        self.lm_head = nn.Linear(dModel, vocabSize, bias=False)
        # scale the residual-branch output projections down with depth (GPT-2 style) for stable starts
        common.gpt_init(self, layers, ("proj.weight",))

    def forward(self, ids: torch.Tensor, hidden: bool = False):
        t = ids.shape[1]
        pos = torch.arange(t, device=ids.device)
        x = self.tok_emb(ids) + self.pos_emb(pos)
        states = [x]  # hidden_state_i is the residual stream entering block i
        for block in self.blocks:
            x = block(x)
            states.append(x)  # the last one is the stream after the last block, before ln_f
        logits = self.lm_head(self.ln_f(x))
        return (logits, *states) if hidden else logits


class ExportWrapper(nn.Module):
    """Returns (logits, hidden_state_0, ..., hidden_state_L) as the ONNX graph's outputs."""

    def __init__(self, model: ByteGPT):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor):
        return self.model(input_ids, hidden=True)


def build_model() -> ByteGPT:
    return ByteGPT(**CONFIG)


# ---------------------------------------------------------------- data


def load_text() -> dict[str, np.ndarray]:
    path = DATA_DIR / "text.npz"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run models/recipes/data_prep.py --text first")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def bits_per_byte(model: ByteGPT, data: np.ndarray, dev: torch.device, batch: int = 32) -> float:
    """Mean cross-entropy in bits over non-overlapping windows of the context length.

    Each window predicts bytes 1..ctx from the bytes before them inside the window (the first byte of
    the stream is never a target), i.e. the average context is about half the context length.
    """
    scored = common.window_cross_entropy(model, data, CONFIG["contextLength"], 256, dev, batch)
    if scored is None:
        return float("nan")
    total, targets = scored
    return total / len(targets) / math.log(2)


def evaluate(model: ByteGPT, text: dict, dev: torch.device) -> dict:
    """Held-out bits/byte per source and over all evaluated held-out bytes together."""
    per, weights = {}, {}
    for s in SOURCES:
        data = text[f"heldout_{s}"][:EVAL_CAP_BYTES]
        per[s] = bits_per_byte(model, data, dev)
        weights[s] = len(data)
    total = sum(per[s] * weights[s] for s in SOURCES) / sum(weights.values())
    return {"all": total, "bySource": per, "bytes": weights}


def verbatim_overlap(text: dict, samples: int = 200, width: int = 48) -> dict[str, float]:
    """Share of random held-out `width`-byte snippets that occur verbatim in the training text.

    Documents are held out whole, but man pages share much boilerplate and generated text across
    pages, so their held-out bits/byte is partly a memory test; this number says how much.
    """
    rng = np.random.default_rng(SEED)
    out = {}
    for s in SOURCES:
        train_b, held = text[f"train_{s}"].tobytes(), text[f"heldout_{s}"].tobytes()
        starts = rng.integers(0, len(held) - width, samples)
        out[s] = round(sum(train_b.find(held[o: o + width]) >= 0 for o in starts) / samples, 3)
    return out


# ---------------------------------------------------------------- training


def forward_backward(fn, x, y, dev) -> torch.Tensor:
    with common.autocast(dev):
        logits = fn(x)
    loss = F.cross_entropy(logits.float().reshape(-1, 256), y.reshape(-1))
    loss.backward()
    return loss


def train(args) -> None:
    common.setup(SEED, args.threads)
    dev = common.pick_device(args.device)
    text = load_text()
    # natural proportions: one stream, windows drawn uniformly from it
    stream = np.concatenate([text[f"train_{s}"] for s in SOURCES])
    log(f"training bytes: {len(stream):,}")
    ctx, bs = CONFIG["contextLength"], args.batch or TRAIN["batch"]
    next_batch = common.window_sampler(stream, ctx, bs, dev, SEED)

    model = build_model().to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"parameters: {n_params:,}")
    opt = common.language_model_optimizer(model, TRAIN, dev, lambda name: "emb" in name)
    budget = common.StepBudget(args.minutes, args.steps)
    steps, seconds, ema = common.run_training(model, opt, next_batch, forward_backward, dev, budget, TRAIN,
                                              args.compile, "byte")
    ev = evaluate(model, text, dev) if not args.skip_eval else {"all": None, "bySource": {}}
    log(f"held-out bits/byte {ev['all']} {ev['bySource']}")
    record = common.training_record(
        dev, seconds, steps, batch=bs, tokensSeen=steps * bs * ctx, trainBitsPerByteEma=ema,
        heldOutBitsPerByteAtTrainEnd=ev["all"], parameters=n_params,
        **{k: v for k, v in TRAIN.items() if k != "batch"},
    )
    common.save_weights(model, Path(args.weights), record)


# ---------------------------------------------------------------- export


def export(args) -> None:
    common.setup(SEED, args.threads)
    dev = torch.device("cpu")
    model = build_model()
    record = common.load_weights(model, Path(args.weights))
    model.eval()
    text = load_text()
    log("evaluating held-out bits/byte on CPU ...")
    ev = evaluate(model, text, dev)
    log(f"held-out bits/byte {ev['all']:.4f} {ev['bySource']}")
    overlap = verbatim_overlap(text)
    log(f"held-out snippets found verbatim in training text: {overlap}")

    out = common.model_dir(NAME)
    L = CONFIG["layers"]
    hidden_names = [f"hidden_state_{i}" for i in range(L + 1)]
    example = torch.from_numpy(np.frombuffer(b"The quick brown fox", dtype=np.uint8).astype(np.int64))[None]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    axes.update({h: {0: "batch", 1: "sequence"} for h in hidden_names})
    common.export_onnx(ExportWrapper(model), (example,), out / "model.onnx", ["input_ids"],
                       ["logits", *hidden_names], axes)

    # reference cases: short prompts, computed with the same torch module (fp32, CPU)
    cases = []
    with torch.no_grad():
        ids = np.frombuffer(b"The", dtype=np.uint8).astype(np.int64)[None]
        res = model(torch.from_numpy(ids), hidden=True)
        cases.append({
            "graph": "model",
            "inputs": {"input_ids": common.tensor_json(ids)},
            "outputs": {"logits": common.tensor_json(res[0].numpy()),
                        f"hidden_state_{L // 2}": common.tensor_json(res[1 + L // 2].numpy()),
                        f"hidden_state_{L}": common.tensor_json(res[1 + L].numpy())},
            "tolerance": 1e-3,
        })
        ids = np.stack([np.frombuffer(s, dtype=np.uint8) for s in (b"ca", b"ma")]).astype(np.int64)
        res = model(torch.from_numpy(ids), hidden=True)
        cases.append({  # batch of two: checks the dynamic batch axis
            "graph": "model",
            "inputs": {"input_ids": common.tensor_json(ids)},
            "outputs": {"logits": common.tensor_json(res[0].numpy())},
            "tolerance": 1e-3,
        })
        # a longer sequence and every residual stream: positions past the first few (attention over a real
        # prefix) and each hidden_state_i the pruning service reads
        ids = np.frombuffer(b"Curiosity killed the cat", dtype=np.uint8).astype(np.int64)[None]
        res = model(torch.from_numpy(ids), hidden=True)
        cases.append({
            "graph": "model",
            "inputs": {"input_ids": common.tensor_json(ids)},
            "outputs": {"logits": common.tensor_json(res[0].numpy()),
                        **{h: common.tensor_json(res[1 + i].numpy()) for i, h in enumerate(hidden_names)}},
            "tolerance": 1e-3,
        })
    common.write_reference(out, cases)

    d = CONFIG["dModel"]
    manifest = {
        "name": NAME,
        "version": "1",
        "task": "language-model",
        "description": f"byte-level decoder-only transformer ({L} pre-norm blocks, d={d}) trained on "
                       "Debian-packaged English text, with every layer's residual stream as an output",
        "graphs": {"model": "model.onnx"},
        "inputs": [common.io_spec("input_ids", "int64", ["batch", "sequence"])],
        "outputs": [common.io_spec("logits", "float32", ["batch", "sequence", CONFIG["vocabSize"]])]
        + [common.io_spec(h, "float32", ["batch", "sequence", d]) for h in hidden_names],
        "preprocessing": {
            "kind": "bytes",
            "encoding": "utf-8",
            "vocabSize": CONFIG["vocabSize"],
            "maxSequence": CONFIG["contextLength"],
            "note": "input_ids are the raw UTF-8 bytes (0-255), no special tokens; sequence <= 256",
        },
        "languageModel": {
            "layers": L,
            "dModel": d,
            "heads": CONFIG["heads"],
            "mlpHidden": CONFIG["mlpHidden"],
            "contextLength": CONFIG["contextLength"],
            "vocabSize": CONFIG["vocabSize"],
            "architecture": "pre-norm GPT: x += attn(ln1(x)); x += mlp(ln2(x)); logits = lm_head(ln_f(x))",
            "hiddenStates": "hidden_state_i enters block i (hidden_state_0 = token + position embedding); "
                            f"hidden_state_{L} leaves the last block, before ln_f",
            "blockNodePrefix": "/model/blocks.<i>/",
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "provenance": {
            "recipe": "models/recipes/byte_gpt.py",
            "data": "English text from Debian packages: fortunes (package fortunes), WordNet 3.0 glosses "
                    "(wordnet-base), English man pages in /usr/share/man/man1-8 of the installed packages "
                    "(roff markup stripped); ~5% of documents held out by hash of their id",
            "licence": "weights: same licence as this repository; training data: fortunes (BSD-style / "
                       "public domain), WordNet 3.0 licence (Princeton, permissive), man pages under the "
                       "free licences of their Debian packages (see /usr/share/doc/<package>/copyright)",
            "createdAt": common.now_iso(),
            "training": record,
        },
        "metrics": {
            "heldOutBitsPerByte": round(ev["all"], 4),
            "heldOutBitsPerByteBySource": {k: round(v, 4) for k, v in ev["bySource"].items()},
            "heldOutBytesEvaluated": ev["bytes"],
            "heldOutVerbatimOverlap48": overlap,
            "note": "heldOutBitsPerByte pools the evaluated held-out bytes of all sources; man pages share much "
                    "boilerplate across pages (see heldOutVerbatimOverlap48: share of random 48-byte held-out "
                    "snippets found verbatim in the training text), so their figure flatters the model; "
                    "fortunes is the fairest prose figure",
            "evaluation": f"non-overlapping {CONFIG['contextLength']}-byte windows over held-out documents "
                          f"(at most {EVAL_CAP_BYTES} bytes per source), fp32 on CPU, torch {torch.__version__}",
        },
    }
    common.write_manifest(out, manifest)


def main() -> None:
    common.run_stages(__doc__, NAME, {"train": train, "export": export}, skip_eval=True)

if __name__ == "__main__":
    main()
