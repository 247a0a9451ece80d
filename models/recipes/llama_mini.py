"""llama-mini: a small decoder with the Llama architecture, exported the way Hugging Face Optimum exports a
Llama for text-generation-with-past (task language-model).

bpe-gpt has GPT-2's layout. Most decoders an ML engineer brings today are Llama-like, and their graphs look
different where the pruning service reads them: RMSNorm instead of LayerNorm; rotary position embeddings
computed once, outside the layers, from `position_ids`, and read by every layer; one additive causal mask
built outside the layers and read by every layer; grouped-query attention (fewer key/value heads than query
heads, so the cache is [batch, kv_heads, past, head_dim]); a SwiGLU MLP; no biases; module names as in
`transformers` (`model.layers.<i>.self_attn.q_proj`, `model.layers.<i>.mlp.down_proj`, `model.norm`,
`lm_head`). This model has that shape so those paths are tested on a real export. It reads bpe-gpt's
tokenizer and trains on bpe-gpt's token streams (same data, same held-out split).

Stages:
  train   trains on .data/bpe_tokens.npz (written by `bpe_gpt.py tokenize`); any device.
  export  held-out bits per byte, ONNX export with a key/value cache, tokenizer.json, manifest and
          reference pairs (an empty cache; a step fed a prefix's cache).

  /usr/bin/python3 models/recipes/llama_mini.py train  [--device auto|cpu|cuda] [--minutes M | --steps N]
  /usr/bin/python3 models/recipes/llama_mini.py export [--weights PATH]
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import bpe_gpt
import common
from common import log

NAME = "llama-mini"
SEED = 20261128
CONFIG = {
    "layers": 4,
    "dModel": 128,
    "heads": 4,
    "kvHeads": 2,
    "mlpHidden": 352,  # SwiGLU: ~8/3 d_model, as Llama sizes it
    "contextLength": bpe_gpt.CONFIG["contextLength"],
    "vocabSize": bpe_gpt.VOCAB_SIZE,
    "ropeTheta": 10000.0,
    "rmsNormEps": 1e-5,
}
TRAIN = {"batch": 32, "peakLr": 3e-3, "warmupSteps": 100, "minLrFraction": 0.1, "weightDecay": 0.1,
         "betas": (0.9, 0.95), "gradClip": 1.0}
MASKED = -1e4  # added to the scores of keys a query may not see (finite: a padded row stays finite)


# ---------------------------------------------------------------- model


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class RotaryEmbedding(nn.Module):
    """cos and sin of every position's rotation angles, [batch, seq, head_dim], computed once per call."""

    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos(), emb.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos[:, None] + rotated * sin[:, None]


class Attention(nn.Module):
    def __init__(self, d: int, heads: int, kv_heads: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d // heads
        self.q_proj = nn.Linear(d, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, d, bias=False)

    def forward(self, x, cos, sin, mask, past: tuple | None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        present = (k, v)
        k, v = self.repeat_kv(k), self.repeat_kv(v)
        if hasattr(F, "scaled_dot_product_attention") and not torch.onnx.is_in_onnx_export():
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim)) + mask
            y = torch.softmax(att, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)), present


    def repeat_kv(self, x: torch.Tensor) -> torch.Tensor:
        """Each key/value head serves heads / kv_heads query heads. Written with expand + reshape (as
        `transformers` does): torch 1.13 exports repeat_interleave with the example's sequence length baked in."""
        b, kv, t, d = x.shape
        groups = self.heads // self.kv_heads
        return x[:, :, None].expand(b, kv, groups, t, d).reshape(b, kv * groups, t, d)


class MLP(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.input_layernorm = RMSNorm(c["dModel"], c["rmsNormEps"])
        self.self_attn = Attention(c["dModel"], c["heads"], c["kvHeads"])
        self.post_attention_layernorm = RMSNorm(c["dModel"], c["rmsNormEps"])
        self.mlp = MLP(c["dModel"], c["mlpHidden"])

    def forward(self, x, cos, sin, mask, past):
        y, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + y
        return x + self.mlp(self.post_attention_layernorm(x)), present


class LlamaModel(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocabSize"], c["dModel"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["layers"])])
        self.norm = RMSNorm(c["dModel"], c["rmsNormEps"])
        self.rotary_emb = RotaryEmbedding(c["dModel"] // c["heads"], c["ropeTheta"])
        causal = torch.tril(torch.ones(c["contextLength"], c["contextLength"], dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, past: list | None):
        x = self.embed_tokens(input_ids)
        cos, sin = self.rotary_emb(position_ids)
        # One additive mask [batch or 1, 1, t, past + t] for every layer: causal, and padded keys hidden.
        t = input_ids.shape[1]
        total = t if past is None else past[0][0].shape[2] + t
        allowed = self.causal[None, None, total - t:total, :total]
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device).masked_fill(~allowed, MASKED)
        presents = []
        for i, layer in enumerate(self.layers):
            x, present = layer(x, cos, sin, mask, None if past is None else past[i])
            presents.append(present)
        return self.norm(x), presents


class LlamaMini(nn.Module):
    """Module names follow `transformers`' LlamaForCausalLM (`model.layers.<i>...`, `lm_head`)."""

    def __init__(self, **config):
        super().__init__()
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config["dModel"], config["vocabSize"], bias=False)
        common.gpt_init(self, config["layers"], ("o_proj.weight", "down_proj.weight"))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)[None].expand(input_ids.shape[0], -1)
        hidden, _ = self.model(input_ids, attention_mask, position_ids, None)
        return self.lm_head(hidden)

    def forward_with_past(self, input_ids, attention_mask, position_ids, past: list[tuple]):
        hidden, presents = self.model(input_ids, attention_mask, position_ids, past)
        return self.lm_head(hidden), presents


def build_model() -> LlamaMini:
    return LlamaMini(**CONFIG)


# ---------------------------------------------------------------- training


def train(args) -> None:
    # bpe-gpt's loop and token streams (the context and vocabulary are the same)
    bpe_gpt.train_on_tokens(args, build_model, SEED, TRAIN, lambda name: name.startswith("model.embed_tokens"))


# ---------------------------------------------------------------- export


def export(args) -> None:
    common.setup(SEED, args.threads)
    dev = torch.device("cpu")
    model = build_model()
    record = common.load_weights(model, Path(args.weights))
    model.eval()
    bpe, spec = bpe_gpt.load_tokenizer()
    nbytes = bpe_gpt.token_bytes(spec)
    log("evaluating held-out bits/byte on CPU ...")
    ev = bpe_gpt.evaluate(model, bpe_gpt.load_tokens(), nbytes, dev)
    log(f"held-out bits/byte {ev['all']:.4f} {ev['bySource']}")

    out = common.model_dir(NAME)
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False) + "\n")
    L, kv = CONFIG["layers"], CONFIG["kvHeads"]
    inputs, outputs = common.export_with_past(
        model, out, L, kv, CONFIG["dModel"] // CONFIG["heads"], np.array([bpe.encode(" fox jumps")], dtype=np.int64),
        np.array([bpe.encode("The quick brown fox")], dtype=np.int64), CONFIG["vocabSize"])

    stats = json.loads((common.DATA_DIR / "bpe_tokens.json").read_text())
    manifest = {
        "name": NAME,
        "version": "1",
        "task": "language-model",
        "description": f"decoder with the Llama architecture ({L} layers, d={CONFIG['dModel']}, RMSNorm, shared rotary "
                       f"embeddings and causal mask, grouped-query attention {CONFIG['heads']}/{kv} heads, SwiGLU), "
                       "exported like Optimum's Llama text-generation-with-past, over bpe-gpt's tokenizer",
        "graphs": {"model": "model.onnx"},
        "inputs": inputs,
        "outputs": outputs,
        "preprocessing": {
            "kind": "hf-tokenizer",
            "tokenizer": "tokenizer.json",
            "maxTokens": CONFIG["contextLength"],
            "note": "bpe-gpt's byte-level BPE; no special tokens are added",
        },
        "languageModel": {
            **{k: CONFIG[k] for k in ("layers", "dModel", "heads", "kvHeads", "mlpHidden", "contextLength",
                                      "vocabSize", "ropeTheta")},
            "architecture": "Llama: x += attn(rmsnorm(x)); x += down(silu(gate(rmsnorm(x))) * up(rmsnorm(x))); "
                            "logits = lm_head(rmsnorm(x)); rotary cos/sin and the additive mask computed once "
                            "outside the layers",
            "hiddenStates": "not outputs: found by graph analysis of the /layers.<i>/ node names",
            "cache": "past_key_values.<i>.key/value [batch, kv_heads, past, head_dim] in, present.<i>.key/value out",
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "provenance": {
            "recipe": "models/recipes/llama_mini.py",
            "data": "bpe-gpt's token streams (the byte-gpt corpus: fortunes, WordNet 3.0 glosses, English man pages)",
            "licence": "weights: same licence as this repository; training data as byte-gpt",
            "createdAt": common.now_iso(),
            "training": record,
        },
        "metrics": {
            "heldOutBitsPerByte": round(ev["all"], 4),
            "heldOutBitsPerByteBySource": {k: round(v, 4) for k, v in ev["bySource"].items()},
            "heldOutBytesEvaluated": ev["bytes"],
            "heldOutBytesPerToken": {s: stats[f"heldout_{s}"]["bytesPerToken"] for s in bpe_gpt.SOURCES},
            "evaluation": f"as bpe-gpt: non-overlapping {CONFIG['contextLength']}-token windows over held-out "
                          f"documents; fp32 on CPU, torch {torch.__version__}",
        },
        "_extra_files": ["tokenizer.json"],
    }
    common.write_manifest(out, manifest)


def main() -> None:
    common.run_stages(__doc__, NAME, {"train": train, "export": export})

if __name__ == "__main__":
    main()
