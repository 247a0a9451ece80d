"""mini-sentence-encoder: a small BERT-style sentence encoder with a Hugging Face `tokenizer.json`.

It exists to prove, on a model the project builds itself, that the embedding service serves a Hugging Face
sentence-transformer exported to ONNX together with its `tokenizer.json`. Everything is built here from
Debian-packaged text (WordNet 3.0, package `wordnet-base`):

1. a WordPiece vocabulary from word frequencies in WordNet glosses and lemma names (specials [PAD] [UNK]
   [CLS] [SEP] [MASK], every frequent character alone and as a `##` continuation, the most frequent whole
   words, then the most frequent word-initial and `##` word-final pieces of the remaining words);
2. a genuine Hugging Face `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing
   `[CLS] $A [SEP]`, padding and truncation blocks as the `tokenizers` library serializes them);
3. a BERT encoder (token + position + type embeddings, post-LayerNorm transformer layers, GELU FFN) trained
   contrastively: a synset's definition and its lemma names ("dog, domestic dog, canis familiaris") are a
   positive pair, the other pairs of the batch are negatives (symmetric InfoNCE over mean-pooled, normalized
   vectors; van den Oord et al. 2018, Eq. 4; as in sentence-transformers' MultipleNegativesRankingLoss);
4. ONNX export (inputs input_ids / attention_mask / token_type_ids int64 [batch, seq], output
   last_hidden_state float32 [batch, seq, 64]; pooling is the manifest's "mean"), model.json and
   reference.json under models/mini-sentence-encoder/1/.

The reference tokenization is computed by the WordPiece implementation in this file, written from the
`tokenizers` documentation independently of the TypeScript one, so each checks the other.

Run with Debian's interpreter (it has python3-torch): /usr/bin/python3 models/recipes/mini_sentence_encoder.py
Deterministic: fixed seeds, one CPU thread, a fixed number of steps (about 3 minutes on one core, 1.3 epochs).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import math
import random
import string
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NAME = "mini-sentence-encoder"
WORDNET = Path("/usr/share/wordnet")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_TOKENS = 128  # position table size = the manifest's maxTokens (special tokens included)
DIM, HEADS, FFN, LAYERS = 64, 2, 256, 2
SEED = 20240601
OPSET = 17  # the newest opset Debian's torch 1.13 writes; has a native LayerNormalization


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


# ------------------------------------------------------------------------------------------- WordNet


def read_synsets() -> list[dict]:
    """Every synset of WordNet's data files as {key, lemmas, definition}, in file order.

    A data line is `offset lex_filenum ss_type w_cnt(hex) (word lex_id){w_cnt} ... | gloss`; the gloss is a
    definition followed by optional `; "example"` sentences.
    """
    synsets = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(WORDNET / f"data.{pos}", encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                count = int(fields[3], 16)
                lemmas = []
                for i in range(count):
                    word = fields[4 + 2 * i]
                    word = word.split("(")[0]  # adjective markers such as asleep(p)
                    word = word.replace("_", " ")
                    if word not in lemmas:
                        lemmas.append(word)
                definition = gloss.split('; "')[0].strip().rstrip(";").strip()
                if lemmas and definition:
                    synsets.append({"key": f"{pos}:{fields[0]}", "lemmas": lemmas, "definition": definition,
                                    "gloss": gloss.strip()})
    return synsets


def is_held_out(key: str) -> bool:
    """About 2% of synsets, chosen by a hash of their key (stable across runs and machines)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 50 == 0


# ------------------------------------------------------------ BERT tokenization (reference implementation)


def _is_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_punctuation(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def bert_normalize(text: str) -> str:
    """BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None -> follows lowercase, lowercase)."""
    out = []
    for ch in text:
        if ch == "\0" or ch == "\ufffd" or _is_control(ch):
            continue
        if ch.isspace():
            out.append(" ")
        elif _is_cjk(ord(ch)):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    # Character by character, as the Rust normalizer does (no final-sigma context rule).
    return "".join(ch.lower() for ch in text)


def bert_pre_tokenize(text: str) -> list[str]:
    """BertPreTokenizer: split on whitespace, then every punctuation character is a word of its own."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isspace() or _is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            if not ch.isspace():
                words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


class WordPieceTokenizer:
    """Greedy longest-match-first WordPiece over BERT-normalized, BERT-pre-tokenized text."""

    def __init__(self, vocab: list[str], unk: str = "[UNK]", prefix: str = "##", max_chars: int = 100):
        self.vocab = vocab
        self.ids = {tok: i for i, tok in enumerate(vocab)}
        self.unk, self.prefix, self.max_chars = unk, prefix, max_chars
        self._cache: dict[str, list[int]] = {}

    def word_ids(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids: list[int] = []
        if len(word) > self.max_chars:
            ids = [self.ids[self.unk]]
        else:
            start = 0
            while start < len(word):
                end = len(word)
                found = None
                while end > start:
                    piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                    if piece in self.ids:
                        found = self.ids[piece]
                        break
                    end -= 1
                if found is None:
                    ids = [self.ids[self.unk]]
                    break
                ids.append(found)
                start = end
        self._cache[word] = ids
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """[CLS] pieces [SEP], cut so that the whole stays within max_tokens; special tokens written in the
        text (e.g. "[MASK]") are matched before normalization, as added tokens with normalized=false are."""
        ids: list[int] = []
        for segment, special in self._split_specials(text):
            if special:
                ids.append(self.ids[segment])
            else:
                for word in bert_pre_tokenize(bert_normalize(segment)):
                    ids.extend(self.word_ids(word))
        ids = ids[: max_tokens - 2]
        return [self.ids["[CLS]"], *ids, self.ids["[SEP]"]]

    @staticmethod
    def _split_specials(text: str) -> list[tuple[str, bool]]:
        parts: list[tuple[str, bool]] = []
        i, last = 0, 0
        while i < len(text):
            match = max((s for s in SPECIALS if text.startswith(s, i)), key=len, default=None)
            if match is None:
                i += 1
                continue
            if i > last:
                parts.append((text[last:i], False))
            parts.append((match, True))
            i = last = i + len(match)
        if last < len(text):
            parts.append((text[last:], False))
        return parts


# ------------------------------------------------------------------------------------------- vocabulary


def build_vocab(texts: list[str], words_target: int, prefixes: int, suffixes: int, min_char: int) -> list[str]:
    """Deterministic WordPiece vocabulary: specials, characters (alone and `##`), frequent whole words, then
    frequent word starts and `##` word ends of the words left out. Ties break alphabetically."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(bert_pre_tokenize(bert_normalize(text)))
    chars: Counter[str] = Counter()
    for word, n in counts.items():
        for ch in word:
            chars[ch] += n
    char_list = sorted(ch for ch, n in chars.items() if n >= min_char)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    whole = [w for w, _ in ranked if len(w) > 1][:words_target]
    whole_set = set(whole)
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for word, n in ranked:
        if word in whole_set or len(word) < 4:
            continue
        for k in range(2, min(7, len(word) - 1)):
            starts[word[:k]] += n
            ends[word[-k:]] += n
    start_list = [p for p, _ in sorted(starts.items(), key=lambda kv: (-kv[1], kv[0])) if p not in whole_set]
    end_list = [p for p, _ in sorted(ends.items(), key=lambda kv: (-kv[1], kv[0]))]
    vocab = list(SPECIALS)
    vocab += char_list
    vocab += ["##" + ch for ch in char_list]
    vocab += whole
    vocab += start_list[:prefixes]
    vocab += ["##" + p for p in end_list[:suffixes]]
    seen, unique = set(), []
    for tok in vocab:
        if tok not in seen:
            seen.add(tok)
            unique.append(tok)
    return unique


def tokenizer_json(vocab: list[str]) -> dict:
    """The tokenizer in the serialization of Hugging Face `tokenizers` (version "1.0")."""
    ids = {tok: i for i, tok in enumerate(vocab)}

    def special(tok: str, type_id: int) -> dict:
        return {"SpecialToken": {"id": tok, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": MAX_TOKENS, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": ids["[PAD]"], "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [
            {"id": ids[tok], "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for tok in SPECIALS
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), {"Sequence": {"id": "A", "type_id": 0}}, special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), {"Sequence": {"id": "A", "type_id": 0}}, special("[SEP]", 0),
                     {"Sequence": {"id": "B", "type_id": 1}}, special("[SEP]", 1)],
            "special_tokens": {tok: {"id": tok, "ids": [ids[tok]], "tokens": [tok]} for tok in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


# ------------------------------------------------------------------------------------------------ model


class Layer(nn.Module):
    """A post-LayerNorm transformer encoder layer, as in BERT (Devlin et al. 2019; Vaswani et al. 2017)."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.out = nn.Linear(DIM, DIM)
        self.norm1 = nn.LayerNorm(DIM, eps=1e-12)
        self.ff1 = nn.Linear(DIM, FFN)
        self.ff2 = nn.Linear(FFN, DIM)
        self.norm2 = nn.LayerNorm(DIM, eps=1e-12)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4).unbind(0)
        scores = q @ k.transpose(-1, -2) / math.sqrt(DIM // HEADS) + bias
        attended = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, s, DIM)
        x = self.norm1(x + self.drop(self.out(attended)))
        return self.norm2(x + self.drop(self.ff2(F.gelu(self.ff1(x)))))


def bert_init(model: nn.Module) -> None:
    """BERT's initialisation: normal(0, 0.02) weights for linear and embedding layers, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


class MiniBert(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, DIM)
        self.positions = nn.Embedding(MAX_TOKENS, DIM)
        self.types = nn.Embedding(2, DIM)
        self.norm = nn.LayerNorm(DIM, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        bert_init(self)

    def forward(self, input_ids, attention_mask, token_type_ids):
        seq = input_ids.shape[1]
        x = self.tokens(input_ids) + self.positions.weight[:seq].unsqueeze(0) + self.types(token_type_ids)
        x = self.drop(self.norm(x))
        # Additive mask: padded keys get -1e4 before the softmax, i.e. a weight of exactly 0 in float32.
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def pad_batch(rows: list[list[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask, torch.zeros_like(ids)


def sentence_vectors(model: nn.Module, rows: list[list[int]], pool, pad_id: int) -> torch.Tensor:
    """Pooled, L2-normalized vectors of a batch of token rows (`pool(hidden, mask)`: mean or CLS)."""
    ids, mask, types = pad_batch(rows, pad_id)
    return F.normalize(pool(model(ids, mask, types), mask), dim=-1)


@torch.no_grad()
def embed(model: nn.Module, rows: list[list[int]], batch: int = 256, pool=mean_pool, pad_id: int = 0) -> torch.Tensor:
    model.eval()
    return torch.cat([sentence_vectors(model, rows[i: i + batch], pool, pad_id) for i in range(0, len(rows), batch)])


def retrieval(model: nn.Module, queries: list[list[int]], keys: list[list[int]], key_text: list[str], pool=mean_pool,
              pad_id: int = 0) -> dict:
    """Definition -> lemma-names retrieval among the held-out synsets; a hit is the right lemma string (two
    synsets can share one, e.g. two senses of "dead")."""
    q, k = embed(model, queries, pool=pool, pad_id=pad_id), embed(model, keys, pool=pool, pad_id=pad_id)
    order = (q @ k.T).argsort(dim=1, descending=True)
    top1 = top10 = 0
    rr = 0.0
    for i in range(len(queries)):
        ranked = [key_text[j] for j in order[i, :100].tolist()]
        rank = ranked.index(key_text[i]) + 1 if key_text[i] in ranked else None
        top1 += rank == 1
        top10 += rank is not None and rank <= 10
        rr += 1.0 / rank if rank else 0.0
    n = len(queries)
    return {"top1": round(top1 / n, 4), "top10": round(top10 / n, 4), "mrr": round(rr / n, 4)}


def length_bucketed_batches(pairs: list, batch: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches whose definitions have similar lengths (less padding: about half the compute on
    one CPU thread); the batch order is shuffled, so lengths still vary from step to step."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batches = []
    for c in range(0, len(order), batch * 32):
        chunk = sorted(order[c: c + batch * 32], key=lambda i: len(pairs[i][0]))
        batches += [chunk[i: i + batch] for i in range(0, len(chunk) - batch + 1, batch)]
    rng.shuffle(batches)
    return batches


def train_contrastive(model: nn.Module, train: list, steps: int, batch: int, lr: float, pool=mean_pool,
                      pad_id: int = 0) -> tuple[list[float], float]:
    """Symmetric InfoNCE over (definition, lemma names) pairs with in-batch negatives, temperature 0.05; AdamW,
    linear warm-up then linear decay. Returns the per-step losses and the seconds it took."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / steps))
    rng = random.Random(SEED)
    batches: list[list[int]] = []
    start = time.time()
    losses = []
    for step in range(steps):
        if not batches:
            batches = length_bucketed_batches(train, batch, rng)
        idx = batches.pop()
        model.train()
        q = sentence_vectors(model, [train[i][0] for i in idx], pool, pad_id)
        k = sentence_vectors(model, [train[i][1] for i in idx], pool, pad_id)
        logits = q @ k.T / 0.05
        labels = torch.arange(len(idx))
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            log(f"step {step + 1}/{steps} loss {np.mean(losses[-100:]):.3f} ({time.time() - start:.0f}s)")
    return losses, time.time() - start


# ------------------------------------------------------------------------------------------------- main


def rounded(values, digits: int = 7) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values]


def tensor_json(t: torch.Tensor, dtype: str) -> dict:
    data = t.flatten().tolist()
    return {"dtype": dtype, "dims": list(t.shape), "data": data if dtype == "int64" else rounded(data)}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


REFERENCE_TOKENIZATION = [
    "Café déjà vu, naïve Zoë!",
    "Hello, world! It's 3.14 (roughly)... isn't it?",
    "北京 is the capital of 中国。",
    "Unbelievably, the zyzzyva 🙂 electrified everyone.",
    "tab\tnew\nline\u200bzero-width and \u00a0no-break spaces",
    "The [MASK] barked at [UNK]-like strangers[SEP]",
    "İstanbul, ΟΔΟΣ, résumé's, ＡＢＣ, 한국, $3.50 + 20% ~ x^2 = {y_1}",
    " ".join(["a very long sentence that keeps going"] * 25),
]
REFERENCE_CASES = [
    ["a domestic animal that barks"],
    ["the study of stars", "great happiness"],
]


@dataclasses.dataclass
class EncoderRecipe:
    """What differs between the encoder recipes; {@link train_and_export} does the rest the same way."""

    name: str
    model: nn.Module
    encode: Callable[[str], list[int]]  # text -> ids with the special tokens, cut to MAX_TOKENS
    piece: Callable[[int], str]  # id -> token, for the reference tokenization
    tokenizer: dict  # the tokenizer.json
    input_names: tuple[str, ...]
    pooling: str  # "mean" | "cls", as the manifest names it
    pool: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    pad_id: int
    description: str
    provenance: dict  # data, licence and whatever else the manifest should say
    objective: str
    reference_texts: list[str]
    extra_metrics: dict = dataclasses.field(default_factory=dict)


def training_arguments(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--steps", type=int, default=1200, help="optimizer steps (fixed, for determinism)")
    ap.add_argument("--batch", type=int, default=128, help="pairs per batch (in-batch negatives)")
    ap.add_argument("--lr", type=float, default=2e-3)
    return ap


def seed_everything() -> None:
    torch.set_num_threads(1)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)


def train_and_export(r: EncoderRecipe, args: argparse.Namespace, train: list, held: list) -> None:
    """Trains r.model contrastively on the (definition, lemma names) pairs, measures held-out retrieval
    before and after, exports the graph and writes tokenizer.json, reference.json and model.json under
    models/<name>/1/."""
    out_dir = Path(__file__).resolve().parent.parent / r.name / "1"
    params = sum(p.numel() for p in r.model.parameters())
    log(f"parameters: {params}")
    held_q, held_k, held_t = ([pair[i] for pair in held] for i in range(3))
    at_init = retrieval(r.model, held_q, held_k, held_t, pool=r.pool, pad_id=r.pad_id)
    log("held-out retrieval at init:", at_init)
    losses, train_seconds = train_contrastive(r.model, train, args.steps, args.batch, args.lr, r.pool, r.pad_id)
    r.model.eval()
    trained = retrieval(r.model, held_q, held_k, held_t, pool=r.pool, pad_id=r.pad_id)
    log("held-out retrieval trained:", trained)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(r.tokenizer, ensure_ascii=False, indent=2) + "\n")

    def feeds(texts: list[str]) -> dict[str, torch.Tensor]:
        ids, mask, types = pad_batch([r.encode(t) for t in texts], r.pad_id)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    sample = feeds(["a dog", "the capital of a country"])
    torch.onnx.export(
        r.model, tuple(sample[n] for n in r.input_names), str(out_dir / "model.onnx"), opset_version=OPSET,
        input_names=list(r.input_names), output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in (*r.input_names, "last_hidden_state")},
        do_constant_folding=True)

    cases = []
    for texts in REFERENCE_CASES:
        fed = feeds(texts)
        with torch.no_grad():
            hidden = r.model(fed["input_ids"], fed["attention_mask"], fed["token_type_ids"])
        cases.append({
            "graph": "model",
            "texts": texts,
            "inputs": {n: tensor_json(fed[n], "int64") for n in r.input_names},
            "outputs": {"last_hidden_state": tensor_json(hidden, "float32")},
            "pooled": tensor_json(r.pool(hidden, fed["attention_mask"]), "float32"),
            "tolerance": 1e-4,
        })
    tokenization = [
        {"text": t, "tokens": [r.piece(i) for i in r.encode(t)], "input_ids": r.encode(t)} for t in r.reference_texts
    ]
    reference = {"tokenization": tokenization, "cases": cases}
    (out_dir / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n")

    manifest = {
        "name": r.name,
        "version": "1",
        "task": "text-embedding",
        "description": r.description,
        "graphs": {"model": "model.onnx"},
        "inputs": [{"name": n, "dtype": "int64", "shape": ["batch", "sequence"]} for n in r.input_names],
        "outputs": [{"name": "last_hidden_state", "dtype": "float32", "shape": ["batch", "sequence", DIM]}],
        "preprocessing": {"kind": "hf-tokenizer", "tokenizer": "tokenizer.json", "maxTokens": MAX_TOKENS,
                          "pooling": r.pooling, "outputName": "last_hidden_state"},
        "embedding": {"dimensions": DIM, "matryoshka": False},
        "provenance": {
            "recipe": f"models/recipes/{r.name.replace('-', '_')}.py",
            **r.provenance,
            "createdAt": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "training": {
                "objective": r.objective,
                "steps": args.steps, "batch": args.batch, "lr": args.lr, "optimizer": "AdamW (wd 0.01)",
                "seed": SEED, "threads": 1, "seconds": round(train_seconds, 1),
                "torch": torch.__version__, "parameters": params, "vocabulary": r.model.tokens.num_embeddings,
                "layers": LAYERS, "heads": HEADS, "hidden": DIM, "ffn": FFN, "opset": OPSET,
            },
        },
        "metrics": {
            "heldOutSynsets": len(held),
            "heldOutDefinitionToLemmaTop1": trained["top1"],
            "heldOutDefinitionToLemmaTop10": trained["top10"],
            "heldOutDefinitionToLemmaMrr": trained["mrr"],
            "untrainedDefinitionToLemmaTop1": at_init["top1"],
            "untrainedDefinitionToLemmaTop10": at_init["top10"],
            "finalTrainLoss": round(float(np.mean(losses[-100:])), 4),
            **r.extra_metrics,
        },
    }
    manifest["sha256"] = {f: sha256_file(out_dir / f) for f in ("model.onnx", "tokenizer.json")}
    (out_dir / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for f in sorted(out_dir.iterdir()):
        log(f"{f.relative_to(out_dir.parent.parent)}: {f.stat().st_size} bytes")


def main() -> None:
    ap = training_arguments(__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=2800, help="whole words in the vocabulary")
    args = ap.parse_args()
    seed_everything()

    synsets = read_synsets()
    log(f"{len(synsets)} synsets from WordNet")
    corpus = [s["gloss"] for s in synsets] + [", ".join(s["lemmas"]) for s in synsets]
    vocab = build_vocab(corpus, words_target=args.words, prefixes=350, suffixes=650, min_char=20)
    log(f"vocabulary: {len(vocab)} entries")
    tok = WordPieceTokenizer(vocab)

    train, held = [], []
    for s in synsets:
        pair = (tok.encode(s["definition"], 32), tok.encode(", ".join(s["lemmas"]), 24), ", ".join(s["lemmas"]))
        (held if is_held_out(s["key"]) else train).append(pair)
    unk = tok.ids["[UNK]"]
    pieces = [i for d, _, _ in train for i in d[1:-1]]
    unk_rate = sum(i == unk for i in pieces) / len(pieces)
    log(f"train pairs {len(train)}, held-out pairs {len(held)}, [UNK] rate {unk_rate:.4%}, "
        f"mean definition length {len(pieces) / len(train):.1f} pieces")

    train_and_export(EncoderRecipe(
        name=NAME,
        model=MiniBert(len(vocab)),
        encode=tok.encode,
        piece=vocab.__getitem__,
        tokenizer=tokenizer_json(vocab),
        input_names=("input_ids", "attention_mask", "token_type_ids"),
        pooling="mean",
        pool=mean_pool,
        pad_id=0,
        description="2-layer BERT-style sentence encoder (d=64) with a WordPiece tokenizer.json, trained on "
                    "WordNet definition/lemma pairs; proves the Hugging Face sentence-transformer path",
        provenance={
            "data": "WordNet 3.0 synset definitions and lemma names (Debian package wordnet-base, "
                    "/usr/share/wordnet/data.{noun,verb,adj,adv}); vocabulary built from the same glosses",
            "licence": "weights: same licence as this repository; data: WordNet 3.0 licence (Princeton University, "
                       "permissive, see /usr/share/doc/wordnet-base/copyright)",
        },
        objective="symmetric InfoNCE, definition <-> lemma names, in-batch negatives, temperature 0.05",
        reference_texts=REFERENCE_TOKENIZATION,
        extra_metrics={"unknownPieceRate": float(f"{unk_rate:.3g}")},
    ), args, train, held)


if __name__ == "__main__":
    main()
