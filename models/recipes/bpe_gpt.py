"""bpe-gpt: a small decoder-only transformer over byte-level BPE tokens, exported the way Hugging Face
exports a GPT-2 (task language-model).

byte-gpt reads raw bytes and outputs every layer's residual stream. Most language models an ML engineer
brings look different: a `tokenizer.json` with a byte-level BPE vocabulary, graph inputs `input_ids` and
`attention_mask`, a single `logits` output, and layers found only by node names (`/transformer/h.3/...`).
This model is that shape, so the pruning service is tested on it; it trains on the same Debian text as
byte-gpt (data_prep.py).

Stages:
  tokenize  learns a byte-level BPE vocabulary (GPT-2 pre-tokenization regex, GPT-2 byte-to-unicode
            alphabet, merges by pair frequency) on the training split, writes it as a Hugging Face
            `tokenizer.json` (.data/bpe-gpt.tokenizer.json) and the token streams (.data/bpe_tokens.npz).
            Needs Debian's python3-regex (\\p{L} classes); the other stages need only numpy and torch.
  train     trains on the token streams (any device; the GPU machine has no python3-regex).
  export    held-out bits per byte (token cross-entropy over the UTF-8 bytes the tokens cover), ONNX
            export, tokenizer.json, manifest and reference pairs (including token ids for sample texts,
            which the TypeScript tokenizer must reproduce).
  export-with-past  the same weights as models/bpe-gpt-with-past: the key/value-cache interface of a
            Hugging Face text-generation-with-past export (past_key_values.<i>.key/value in,
            present.<i>.key/value out), which most exported decoders have.

  /usr/bin/python3 models/recipes/bpe_gpt.py tokenize
  /usr/bin/python3 models/recipes/bpe_gpt.py train  [--device auto|cpu|cuda] [--minutes M | --steps N]
  /usr/bin/python3 models/recipes/bpe_gpt.py export [--weights PATH]
  /usr/bin/python3 models/recipes/bpe_gpt.py export-with-past [--weights PATH]
"""

from __future__ import annotations

import collections
import heapq
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from byte_gpt import MLP, SOURCES, load_text
from common import DATA_DIR, log

NAME = "bpe-gpt"
SEED = 20261127
VOCAB_SIZE = 4096  # 256 bytes + 3,839 merges + <|endoftext|>
END_OF_TEXT = "<|endoftext|>"
CONFIG = {
    "layers": 6,
    "dModel": 128,
    "heads": 4,
    "mlpHidden": 384,  # 3x d_model: with untied 4,096-wide embeddings the fp32 graph stays under 10 MB
    "contextLength": 128,  # tokens (~450 bytes of English)
    "vocabSize": VOCAB_SIZE,
}
TRAIN = {"batch": 128, "peakLr": 3e-3, "warmupSteps": 300, "minLrFraction": 0.1, "weightDecay": 0.1,
         "betas": (0.9, 0.95), "gradClip": 1.0}
EVAL_CAP_TOKENS = 150_000  # held-out tokens evaluated per source
TOKENIZER_FILE = DATA_DIR / "bpe-gpt.tokenizer.json"
TOKENS_FILE = DATA_DIR / "bpe_tokens.npz"
# GPT-2's pre-tokenization pattern, as the `tokenizers` ByteLevel pre-tokenizer uses it.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


# ---------------------------------------------------------------- tokenizer


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte alphabet: printable bytes stand for themselves, the other 68 for U+0100 onwards."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHARS = bytes_to_unicode()


def byte_level(word: str) -> str:
    return "".join(BYTE_CHARS[b] for b in word.encode("utf-8"))


def pre_tokenize(text: str) -> list[str]:
    import regex  # only this stage needs it (Debian python3-regex)

    return regex.findall(GPT2_PATTERN, text)


def learn_merges(word_counts: dict[str, int], merges: int) -> list[tuple[str, str]]:
    """Byte-pair merges by pair frequency over byte-level words, with incrementally updated pair counts.

    Ties go to the lexicographically smallest pair, so the result is deterministic. A heap holds the
    candidates; an entry whose count has since changed is re-queued when it surfaces.
    """
    words = [list(w) for w in word_counts]
    freqs = list(word_counts.values())
    pairs: collections.Counter = collections.Counter()
    where: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pairs.items()]
    heapq.heapify(heap)
    out: list[tuple[str, str]] = []
    while len(out) < merges and heap:
        negative, best = heapq.heappop(heap)
        current = pairs.get(best, 0)
        if current <= 0:
            continue
        if -negative != current:  # a stale entry: counts only change by merges, so re-queue at today's count
            heapq.heappush(heap, (-current, best))
            continue
        out.append(best)
        merged = best[0] + best[1]
        touched: set[tuple[str, str]] = set()
        for i in list(where.pop(best, ())):
            w, f = words[i], freqs[i]
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] -= f
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
            j, nw = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    nw.append(merged)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for a, b in zip(nw, nw[1:]):
                pairs[(a, b)] += f
                where[(a, b)].add(i)
                touched.add((a, b))
        for p in touched:
            if p in pairs and p != best:
                heapq.heappush(heap, (-pairs[p], p))
        pairs.pop(best, None)
        if len(out) % 500 == 0:
            log(f"merges: {len(out)}/{merges}")
    return out


class Bpe:
    """Encodes byte-level words with ranked merges: repeatedly merge the adjacent pair of lowest rank."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.ranks = {m: r for r, m in enumerate(merges)}
        self.cache: dict[str, list[int]] = {}

    def word_ids(self, raw: str) -> list[int]:
        hit = self.cache.get(raw)
        if hit is not None:
            return hit
        symbols = list(byte_level(raw))
        while len(symbols) > 1:
            ranked = [(self.ranks.get(p, math.inf), p) for p in zip(symbols, symbols[1:])]
            rank, pair = min(ranked, key=lambda rp: rp[0])
            if rank == math.inf:
                break
            out, j = [], 0
            while j < len(symbols):
                if j + 1 < len(symbols) and (symbols[j], symbols[j + 1]) == pair:
                    out.append(symbols[j] + symbols[j + 1])
                    j += 2
                else:
                    out.append(symbols[j])
                    j += 1
            symbols = out
        ids = [self.vocab[s] for s in symbols]
        if len(self.cache) < 2_000_000:
            self.cache[raw] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in pre_tokenize(text):
            ids.extend(self.word_ids(word))
        return ids


def tokenizer_json(vocab: dict[str, int], merges: list[tuple[str, str]]) -> dict:
    """The file as the `tokenizers` library writes a GPT-2 tokenizer (merges in the pair-array form)."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": VOCAB_SIZE - 1, "content": END_OF_TEXT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [list(m) for m in merges]},
    }


def load_tokenizer() -> tuple[Bpe, dict]:
    if not TOKENIZER_FILE.exists():
        raise SystemExit(f"{TOKENIZER_FILE} is missing: run bpe_gpt.py tokenize first")
    spec = json.loads(TOKENIZER_FILE.read_text())
    merges = [tuple(m) for m in spec["model"]["merges"]]
    return Bpe(spec["model"]["vocab"], merges), spec


def token_bytes(spec: dict) -> np.ndarray:
    """UTF-8 bytes each token stands for (one per byte-level character; the special token none)."""
    out = np.zeros(VOCAB_SIZE, dtype=np.int64)
    for token, i in spec["model"]["vocab"].items():
        out[i] = len(token)
    return out


def tokenize(args) -> None:
    text = load_text()
    t0 = time.time()
    counts: collections.Counter = collections.Counter()
    for s in SOURCES:
        counts.update(pre_tokenize(text[f"train_{s}"].tobytes().decode("utf-8")))
    # words seen once add little to the merges and most of the work
    frequent = {byte_level(w): c for w, c in counts.items() if c >= 2}
    log(f"pre-tokenized in {time.time() - t0:.0f} s: {len(counts):,} distinct words, {len(frequent):,} seen twice+")
    alphabet = [BYTE_CHARS[b] for b in range(256)]
    merges = learn_merges(frequent, VOCAB_SIZE - 256 - 1)
    vocab = {c: i for i, c in enumerate(alphabet)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    if len(vocab) != VOCAB_SIZE - 1:
        raise SystemExit(f"vocabulary has {len(vocab)} tokens, expected {VOCAB_SIZE - 1}")
    log(f"learned {len(merges)} merges in {time.time() - t0:.0f} s")
    TOKENIZER_FILE.write_text(json.dumps(tokenizer_json(vocab, merges), ensure_ascii=False) + "\n")
    bpe = Bpe(vocab, merges)
    arrays, stats = {}, {}
    for split in ("train", "heldout"):
        for s in SOURCES:
            raw = text[f"{split}_{s}"].tobytes()
            ids = np.array(bpe.encode(raw.decode("utf-8")), dtype=np.uint16)
            arrays[f"{split}_{s}"] = ids
            stats[f"{split}_{s}"] = {"bytes": len(raw), "tokens": int(ids.size),
                                     "bytesPerToken": round(len(raw) / max(1, ids.size), 3)}
            log(f"{split} {s}: {stats[f'{split}_{s}']}")
    np.savez_compressed(TOKENS_FILE, **arrays)
    (DATA_DIR / "bpe_tokens.json").write_text(json.dumps(stats, indent=2) + "\n")
    log("wrote", TOKENS_FILE, f"{TOKENS_FILE.stat().st_size / 1e6:.1f} MB in {time.time() - t0:.0f} s")


def load_tokens() -> dict[str, np.ndarray]:
    if not TOKENS_FILE.exists():
        raise SystemExit(f"{TOKENS_FILE} is missing: run bpe_gpt.py tokenize first")
    with np.load(TOKENS_FILE) as z:
        return {k: z[k] for k in z.files}


# ---------------------------------------------------------------- model


class Attention(nn.Module):
    """Causal self-attention that also honours a padding mask over keys (`attention_mask`, 1 = token)."""

    def __init__(self, d: int, heads: int, context: int):
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        mask = torch.tril(torch.ones(context, context, dtype=torch.bool))
        self.register_buffer("causal", mask.view(1, 1, context, context), persistent=False)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None, past: tuple | None = None):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            return self.attend_with_past(q, k, v, keep, past)
        if keep is None and hasattr(F, "scaled_dot_product_attention") and not torch.onnx.is_in_onnx_export():
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            allowed = self.causal[:, :, :t, :t]
            if keep is not None:
                allowed = allowed & keep[:, None, None, :].bool()
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            # a large negative number, not -inf: a padded query row that sees no key stays finite
            att = att.masked_fill(~allowed, -1e4)
            y = torch.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))

    def attend_with_past(self, q, k, v, keep, past: tuple):
        """The same attention with a key/value cache, as Hugging Face decoders export it: keys and values of
        `past` earlier tokens [batch, heads, past, head_dim] come first, query i sits at position past + i,
        `keep` covers past + t keys; returns the output and the cache extended by this call's tokens."""
        b, _, t, _ = q.shape
        k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        total = k.shape[2]
        allowed = self.causal[:, :, total - t:total, :total] & keep[:, None, None, :].bool()
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        att = att.masked_fill(~allowed, -1e4)
        y = torch.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)), (k, v)


class Block(nn.Module):
    def __init__(self, d: int, heads: int, hidden: int, context: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads, context)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = MLP(d, hidden)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None, past: tuple | None = None):
        if past is not None:
            y, present = self.attn(self.ln_1(x), keep, past)
            x = x + y
            return x + self.mlp(self.ln_2(x)), present
        x = x + self.attn(self.ln_1(x), keep)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, layers: int, dModel: int, heads: int, mlpHidden: int, contextLength: int, vocabSize: int):
        super().__init__()
        self.wte = nn.Embedding(vocabSize, dModel)
        self.wpe = nn.Embedding(contextLength, dModel)
        self.h = nn.ModuleList([Block(dModel, heads, mlpHidden, contextLength) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dModel)


class BpeGPT(nn.Module):
    """Module names follow GPT-2's (`transformer.h.<i>`), so exported node names read /transformer/h.<i>/..."""

    def __init__(self, **config):
        super().__init__()
        self.transformer = Transformer(**config)
        self.lm_head = nn.Linear(config["dModel"], config["vocabSize"], bias=False)
        common.gpt_init(self, config["layers"], ("c_proj.weight", "mlp.proj.weight"))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        tr = self.transformer
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = tr.wte(input_ids) + tr.wpe(pos)
        for block in tr.h:
            x = block(x, attention_mask)
        return self.lm_head(tr.ln_f(x))

    def forward_with_past(self, input_ids, attention_mask, position_ids, past: list[tuple]):
        """One step of cached decoding: logits of the new tokens and every layer's extended key/value cache."""
        tr = self.transformer
        x = tr.wte(input_ids) + tr.wpe(position_ids)
        presents = []
        for block, layer_past in zip(tr.h, past):
            x, present = block(x, attention_mask, layer_past)
            presents.append(present)
        return self.lm_head(tr.ln_f(x)), presents


def build_model() -> BpeGPT:
    return BpeGPT(**CONFIG)


# ---------------------------------------------------------------- evaluation


def bits_per_byte(model: BpeGPT, ids: np.ndarray, nbytes: np.ndarray, dev: torch.device, batch: int = 32) -> float:
    """Token cross-entropy in bits over the UTF-8 bytes of the predicted tokens, non-overlapping windows."""
    scored = common.window_cross_entropy(model, ids, CONFIG["contextLength"], VOCAB_SIZE, dev, batch)
    if scored is None:
        return float("nan")
    total, targets = scored
    return total / math.log(2) / float(nbytes[targets].sum())


def evaluate(model: BpeGPT, tokens: dict, nbytes: np.ndarray, dev: torch.device) -> dict:
    per, weights = {}, {}
    for s in SOURCES:
        ids = tokens[f"heldout_{s}"][:EVAL_CAP_TOKENS]
        per[s] = bits_per_byte(model, ids, nbytes, dev)
        weights[s] = int(nbytes[ids.astype(np.int64)].sum())
    total = sum(per[s] * weights[s] for s in SOURCES) / sum(weights.values())
    return {"all": total, "bySource": per, "bytes": weights}


# ---------------------------------------------------------------- training


def forward_backward(fn, x, y, dev) -> torch.Tensor:
    with common.autocast(dev):
        logits = fn(x)
    loss = F.cross_entropy(logits.float().reshape(-1, VOCAB_SIZE), y.reshape(-1))
    loss.backward()
    return loss


def train(args) -> None:
    train_on_tokens(args, build_model, SEED, TRAIN,
                    lambda name: name.startswith(("transformer.wte", "transformer.wpe")))


def train_on_tokens(args, build, seed: int, train_cfg: dict, is_embedding) -> None:
    """Trains the decoder `build()` makes on the BPE token streams (bpe-gpt, and llama-mini, which shares
    them) with the recipes' common loop, and saves its weights with the training record."""
    common.setup(seed, args.threads)
    dev = common.pick_device(args.device)
    tokens = load_tokens()
    stream = np.concatenate([tokens[f"train_{s}"] for s in SOURCES]).astype(np.int32)
    log(f"training tokens: {len(stream):,}")
    ctx, bs = CONFIG["contextLength"], args.batch or train_cfg["batch"]
    next_batch = common.window_sampler(stream, ctx, bs, dev, seed)

    model = build().to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"parameters: {n_params:,}")
    opt = common.language_model_optimizer(model, train_cfg, dev, is_embedding)
    budget = common.StepBudget(args.minutes, args.steps)
    steps, seconds, ema = common.run_training(model, opt, next_batch, forward_backward, dev, budget, train_cfg,
                                              args.compile, "token")
    record = common.training_record(
        dev, seconds, steps, batch=bs, tokensSeen=steps * bs * ctx, trainBitsPerTokenEma=ema, parameters=n_params,
        **{k: v for k, v in train_cfg.items() if k != "batch"},
    )
    common.save_weights(model, Path(args.weights), record)


# ---------------------------------------------------------------- export


class ExportWrapper(nn.Module):
    def __init__(self, model: BpeGPT):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        return self.model(input_ids, attention_mask)


REFERENCE_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Don't panic!  It's only 42 -- or is it?\n\n\tIndented line",
    "naïve café, 東京, emoji 🙂 and <|endoftext|> typed in the text",
    "ls -la /usr/share/man | grep '^d'",
]


def export(args) -> None:
    common.setup(SEED, args.threads)
    dev = torch.device("cpu")
    model = build_model()
    record = common.load_weights(model, Path(args.weights))
    model.eval()
    bpe, spec = load_tokenizer()
    nbytes = token_bytes(spec)
    tokens = load_tokens()
    log("evaluating held-out bits/byte on CPU ...")
    ev = evaluate(model, tokens, nbytes, dev)
    log(f"held-out bits/byte {ev['all']:.4f} {ev['bySource']}")
    stats = json.loads((DATA_DIR / "bpe_tokens.json").read_text())

    out = common.model_dir(NAME)
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False) + "\n")
    example = torch.tensor([bpe.encode("The quick brown fox")], dtype=torch.int64)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch", 1: "sequence"}}
    common.export_onnx(ExportWrapper(model), (example, torch.ones_like(example)), out / "model.onnx",
                       ["input_ids", "attention_mask"], ["logits"], axes)

    cases = []
    with torch.no_grad():
        ids = np.array([bpe.encode("The quick brown fox")], dtype=np.int64)
        mask = np.ones_like(ids)
        cases.append({"graph": "model",
                      "inputs": {"input_ids": common.tensor_json(ids), "attention_mask": common.tensor_json(mask)},
                      "outputs": {"logits": common.tensor_json(model(torch.from_numpy(ids),
                                                                     torch.from_numpy(mask)).numpy())},
                      "tolerance": 1e-3})
        # a right-padded batch of two: padding never changes the real tokens' logits
        a, b = bpe.encode("Curiosity killed"), bpe.encode("ca")
        width = max(len(a), len(b))
        ids = np.array([a + [0] * (width - len(a)), b + [0] * (width - len(b))], dtype=np.int64)
        mask = np.array([[1] * len(a) + [0] * (width - len(a)), [1] * len(b) + [0] * (width - len(b))],
                        dtype=np.int64)
        cases.append({"graph": "model",
                      "inputs": {"input_ids": common.tensor_json(ids), "attention_mask": common.tensor_json(mask)},
                      "outputs": {"logits": common.tensor_json(model(torch.from_numpy(ids),
                                                                     torch.from_numpy(mask)).numpy())},
                      "tolerance": 1e-3})
    common.write_reference(out, cases)
    # token ids of sample texts, for the TypeScript tokenizer; the text with <|endoftext|> typed in it is left
    # out: this encoder does not match added tokens, while a tokenizer.json reader (the library, and ours)
    # turns the typed token into its id (language-model.test.ts checks that separately)
    (out / "tokenizer-reference.json").write_text(json.dumps(
        {"texts": [{"text": t, "ids": bpe.encode(t)} for t in REFERENCE_TEXTS[:2] + REFERENCE_TEXTS[3:]]},
        ensure_ascii=False) + "\n")

    L, d = CONFIG["layers"], CONFIG["dModel"]
    heldout_bytes_per_token = {s: stats[f"heldout_{s}"]["bytesPerToken"] for s in SOURCES}
    manifest = {
        "name": NAME,
        "version": "1",
        "task": "language-model",
        "description": f"decoder-only transformer over a {VOCAB_SIZE}-token byte-level BPE vocabulary ({L} "
                       f"pre-norm blocks, d={d}), exported like a Hugging Face GPT-2: input_ids + attention_mask "
                       "in, logits out, layers found by node name",
        "graphs": {"model": "model.onnx"},
        "inputs": [common.io_spec("input_ids", "int64", ["batch", "sequence"]),
                   common.io_spec("attention_mask", "int64", ["batch", "sequence"])],
        "outputs": [common.io_spec("logits", "float32", ["batch", "sequence", VOCAB_SIZE])],
        "preprocessing": {
            "kind": "hf-tokenizer",
            "tokenizer": "tokenizer.json",
            "maxTokens": CONFIG["contextLength"],
            "note": "byte-level BPE (GPT-2 pre-tokenization and byte alphabet); no special tokens are added",
        },
        "languageModel": {
            "layers": L,
            "dModel": d,
            "heads": CONFIG["heads"],
            "mlpHidden": CONFIG["mlpHidden"],
            "contextLength": CONFIG["contextLength"],
            "vocabSize": VOCAB_SIZE,
            "architecture": "pre-norm GPT-2 layout: x += attn(ln_1(x)); x += mlp(ln_2(x)); "
                            "logits = lm_head(ln_f(x)); padded keys masked by attention_mask",
            "hiddenStates": "not outputs: found by graph analysis of the /transformer/h.<i>/ node names",
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "provenance": {
            "recipe": "models/recipes/bpe_gpt.py",
            "data": "the byte-gpt corpus (data_prep.py): fortunes, WordNet 3.0 glosses, English man pages; "
                    "the BPE vocabulary was learned on its training split",
            "licence": "weights: same licence as this repository; training data as byte-gpt (fortunes BSD-style / "
                       "public domain, WordNet 3.0 licence, man pages under their Debian packages' licences)",
            "createdAt": common.now_iso(),
            "training": record,
        },
        "metrics": {
            "heldOutBitsPerByte": round(ev["all"], 4),
            "heldOutBitsPerByteBySource": {k: round(v, 4) for k, v in ev["bySource"].items()},
            "heldOutBytesEvaluated": ev["bytes"],
            "heldOutBytesPerToken": heldout_bytes_per_token,
            "evaluation": f"non-overlapping {CONFIG['contextLength']}-token windows over held-out documents (at most "
                          f"{EVAL_CAP_TOKENS} tokens per source); bits = token cross-entropy, bytes = UTF-8 bytes "
                          f"of the predicted tokens; fp32 on CPU, torch {torch.__version__}",
        },
        "_extra_files": ["tokenizer.json"],
    }
    common.write_manifest(out, manifest)


# ---------------------------------------------------------------- export with a key/value cache

WITH_PAST_NAME = f"{NAME}-with-past"


def export_with_past(args) -> None:
    """bpe-gpt's weights exported with a key/value cache (models/bpe-gpt-with-past/1): the interface most
    decoders exported from Hugging Face have, so the services are tested on it. Reference cases: an empty
    cache reproduces bpe-gpt's logits; a step fed the cache of a prefix reproduces the full run's last logits."""
    common.setup(SEED, args.threads)
    model = build_model()
    record = common.load_weights(model, Path(args.weights))
    model.eval()
    bpe, spec = load_tokenizer()
    source = json.loads((common.MODELS_DIR / NAME / "1" / "model.json").read_text())
    L, heads = CONFIG["layers"], CONFIG["heads"]
    out = common.model_dir(WITH_PAST_NAME)
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False) + "\n")
    inputs, outputs = common.export_with_past(
        model, out, L, heads, CONFIG["dModel"] // heads, np.array([bpe.encode(" fox jumps")], dtype=np.int64),
        np.array([bpe.encode("The quick brown fox")], dtype=np.int64), VOCAB_SIZE)

    manifest = {
        **{k: source[k] for k in ("task", "preprocessing", "metrics")},
        "name": WITH_PAST_NAME,
        "version": "1",
        "description": f"{NAME}/1's weights exported with a key/value cache, as Hugging Face Optimum exports a "
                       "GPT-2 for text-generation-with-past: input_ids, attention_mask (past + new tokens), "
                       "position_ids and past_key_values.<i>.key/value in; logits and present.<i>.key/value out",
        "graphs": {"model": "model.onnx"},
        "inputs": inputs,
        "outputs": outputs,
        "languageModel": {
            **source["languageModel"],
            "cache": "past_key_values.<i>.key/value [batch, heads, past, head_dim] in, present.<i>.key/value "
                     "(past + new tokens) out; an empty cache (past = 0) scores a text from its start",
        },
        "provenance": {
            **source["provenance"],
            "recipe": "models/recipes/bpe_gpt.py export-with-past",
            "weights": f"{NAME}/1 (same training run; held-out metrics are {NAME}/1's, the reference cases "
                       "check that an empty cache reproduces its logits)",
            "createdAt": common.now_iso(),
            "training": record,
        },
        "_extra_files": ["tokenizer.json"],
    }
    common.write_manifest(out, manifest)


def main() -> None:
    common.run_stages(__doc__, NAME, {"tokenize": tokenize, "train": train, "export": export,
                                      "export-with-past": export_with_past})

if __name__ == "__main__":
    main()
