"""A SentencePiece Unigram tokenizer as a Hugging Face `tokenizer.json`, the layout of XLM-R's family.

The multilingual sentence encoders (multilingual-e5, paraphrase-multilingual-*, LaBSE's successors on XLM-R)
ship a `tokenizer.json` whose model is a SentencePiece Unigram vocabulary and whose normalizer starts with
`Precompiled`: SentencePiece's NFKC-based rules compiled into a double-array trie. Nothing can be
downloaded here, so this recipe trains such a tokenizer itself with Debian's `python3-sentencepiece`
(Kudo 2018's Unigram model, `nmt_nfkc` normalization) on Debian-packaged English text (fortunes, WordNet
glosses) and converts the trained model the way `transformers`' XLM-R converter does:

  normalizer      Sequence[Precompiled(the model's charsmap), Replace("``" -> '"'), Replace("''" -> '"'),
                  Replace(/ {2,}/ -> " ")]
  pre_tokenizer   Metaspace("▁", prepend_scheme "always", split)
  model           Unigram(vocab = [piece, log-probability], unk_id, byte_fallback)
  post_processor  TemplateProcessing("<s> $A </s>")
  decoder         Metaspace

`mini_xlmr_encoder.py` trains its encoder over this tokenizer and ships the file with the model; the
TypeScript tokenizer (`packages/featurizers`) is checked against the reference library (npm `tokenizers`)
on it. Needs Debian's `python3-sentencepiece`. Deterministic for a given sentencepiece version (one
thread); about 15 s.
"""

from __future__ import annotations

import base64
import io

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from common import log
from data_prep import fortunes_docs, wordnet_docs

SPECIALS = {"bos": (0, "<s>"), "pad": (1, "<pad>"), "eos": (2, "</s>"), "unk": (3, "<unk>")}


def training_lines(max_docs: int) -> list[str]:
    """One line per fortune or synset gloss, fortunes first, whitespace collapsed."""
    lines: list[str] = []
    for docs in (fortunes_docs(), wordnet_docs()):
        for n, (_, text) in enumerate(docs):
            if n >= max_docs:
                break
            lines.append(" ".join(text.split()))
    return lines


def train(lines: list[str], vocab_size: int, byte_fallback: bool) -> sentencepiece_model_pb2.ModelProto:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        normalization_rule_name="nmt_nfkc",
        byte_fallback=byte_fallback,
        character_coverage=0.9995,
        bos_id=SPECIALS["bos"][0],
        pad_id=SPECIALS["pad"][0],
        eos_id=SPECIALS["eos"][0],
        unk_id=SPECIALS["unk"][0],
        num_threads=1,
        minloglevel=2,
    )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto


def replace(pattern: dict, content: str) -> dict:
    return {"type": "Replace", "pattern": pattern, "content": content}


def tokenizer_json(proto: sentencepiece_model_pb2.ModelProto, byte_fallback: bool) -> dict:
    pieces = [[p.piece, p.score] for p in proto.pieces]
    unk_id = SPECIALS["unk"][0]
    bos, eos = SPECIALS["bos"][1], SPECIALS["eos"][1]
    added = [
        {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True}
        for i, s in sorted(SPECIALS.values())
    ]
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode("ascii")
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": charsmap},
                replace({"String": "``"}, '"'),
                replace({"String": "''"}, '"'),
                replace({"Regex": " {2,}"}, " "),
            ],
        },
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
            "special_tokens": {
                s: {"id": s, "ids": [SPECIALS[k][0]], "tokens": [s]} for k, s in (("bos", bos), ("eos", eos))
            },
        },
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": unk_id, "vocab": pieces, "byte_fallback": byte_fallback},
    }


def build(max_docs: int = 20000, vocab_size: int = 3000) -> tuple[spm.SentencePieceProcessor, dict, dict]:
    """Trains the tokenizer: its SentencePiece processor (for the recipe's own tokenization), its
    `tokenizer.json` and a description for the manifest."""
    lines = training_lines(max_docs)
    log(f"training a Unigram tokenizer on {len(lines)} lines ({sum(map(len, lines)) / 1e6:.1f} MB)")
    proto = train(lines, vocab_size, byte_fallback=True)
    about = {
        "sentencepiece": spm.__version__,
        "model": "unigram",
        "normalization": proto.normalizer_spec.name,
        "pieces": len(proto.pieces),
        "bytePieces": sum(1 for p in proto.pieces if p.type == sentencepiece_model_pb2.ModelProto.SentencePiece.BYTE),
        "trainingLines": len(lines),
        "data": "fortunes (package fortunes) and WordNet 3.0 glosses (wordnet-base), the first "
                f"{max_docs} documents of each",
    }
    processor = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    return processor, tokenizer_json(proto, byte_fallback=True), about
