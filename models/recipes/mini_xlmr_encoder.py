"""mini-xlmr-encoder: a small sentence encoder shaped like XLM-R's family (multilingual-e5,
paraphrase-multilingual-*), with its SentencePiece Unigram `tokenizer.json`.

mini-sentence-encoder proves the BERT path (WordPiece, token_type_ids, mean pooling). This one proves the
other common Hugging Face layout, which differs in every place a server can get wrong:
- the tokenizer: SentencePiece Unigram with a Precompiled `nmt_nfkc` charsmap, Metaspace, byte fallback,
  `<s> $A </s>` (built by `unigram_tokenizer.py` with Debian's `python3-sentencepiece`);
- the graph's inputs: `input_ids` and `attention_mask` only (no `token_type_ids`);
- position ids as RoBERTa computes them, from the ids: cumsum(ids != <pad>) + <pad>, so padding must use the
  `<pad>` id (1), not 0.

Training is mini-sentence-encoder's (same encoder layers, objective, steps and data: WordNet definition <->
lemma names, symmetric InfoNCE, mean pooling as multilingual-e5 and paraphrase-multilingual pool). CLS
pooling was tried first and does not train from scratch here: with the `<s>` vector the full 1,200 steps
ended at loss 4.09 (from ln 128 = 4.85) and held-out top-1 retrieval 1.6% (1.3% untrained), and a BERT-layout
run with CLS stood at 4.87 and 4.86 after 100 and 200 steps, against 4.29 and 3.67 with the mean; encoders
that pool CLS start from a pretrained model. CLS pooling is covered by the embedding service's unit tests.
Writes models/mini-xlmr-encoder/1/{model.onnx, tokenizer.json, model.json, reference.json}. The reference
tokenization comes from SentencePiece itself, an implementation independent of both the TypeScript
tokenizer and the `tokenizers` library.

Run with Debian's interpreter: /usr/bin/python3 models/recipes/mini_xlmr_encoder.py (about 10 minutes on one
core; deterministic: fixed seeds, one thread, a fixed number of steps).
"""

from __future__ import annotations

import torch
from torch import nn

import unigram_tokenizer
from mini_sentence_encoder import (DIM, LAYERS, MAX_TOKENS, EncoderRecipe, Layer, bert_init, is_held_out, log,
                                   mean_pool, read_synsets, seed_everything, train_and_export, training_arguments)

NAME = "mini-xlmr-encoder"
BOS, PAD, EOS = 0, 1, 2  # unigram_tokenizer.SPECIALS
# MAX_TOKENS (128) counts <s> and </s>; the position table has MAX_TOKENS + PAD + 1 rows, as RoBERTa's.


class MiniXlmr(nn.Module):
    """Token + RoBERTa-style position embeddings, LayerNorm, post-LN encoder layers; no token types."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, DIM)
        self.positions = nn.Embedding(MAX_TOKENS + PAD + 1, DIM)
        self.norm = nn.LayerNorm(DIM, eps=1e-5)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        bert_init(self)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        # transformers' create_position_ids_from_input_ids: padding keeps position PAD, tokens count from PAD + 1.
        real = input_ids.ne(PAD).long()
        positions = torch.cumsum(real, dim=1) * real + PAD
        x = self.drop(self.norm(self.tokens(input_ids) + self.positions(positions)))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x


def encode(processor, text: str, limit: int = MAX_TOKENS) -> list[int]:
    """`<s> pieces </s>`, pieces cut to fit `limit` (the tokenizer.json's truncation, right side)."""
    return [BOS, *processor.encode(text)[: limit - 2], EOS]


REFERENCE_TOKENIZATION = [
    "a domestic animal that barks",
    "Hello, world! It's 3.14 (roughly)... isn't it?",
    "Café déjà vu, naïve Zoë: ﬁne ligatures and Ｆｕｌｌ-width letters, ① and ½",
    "北京 is the capital of 中国。 🙂",
    "the study of stars",
    " ".join(["a very long sentence that keeps going"] * 25),
]


def main() -> None:
    args = training_arguments(__doc__.split("\n")[0]).parse_args()
    seed_everything()

    processor, tokenizer, about = unigram_tokenizer.build()
    tokenizer["truncation"] = {"direction": "Right", "max_length": MAX_TOKENS, "strategy": "LongestFirst", "stride": 0}
    synsets = read_synsets()
    train, held = [], []
    for s in synsets:
        lemmas = ", ".join(s["lemmas"])
        pair = (encode(processor, s["definition"], 32), encode(processor, lemmas, 24), lemmas)
        (held if is_held_out(s["key"]) else train).append(pair)
    log(f"{len(synsets)} synsets: train pairs {len(train)}, held-out pairs {len(held)}, "
        f"vocabulary {processor.get_piece_size()}")

    train_and_export(EncoderRecipe(
        name=NAME,
        model=MiniXlmr(processor.get_piece_size()),
        encode=lambda text: encode(processor, text),
        piece=processor.id_to_piece,
        tokenizer=tokenizer,
        input_names=("input_ids", "attention_mask"),
        pooling="mean",
        pool=mean_pool,
        pad_id=PAD,
        description="2-layer sentence encoder (d=64) in XLM-R's layout: SentencePiece Unigram tokenizer.json, "
                    "inputs input_ids and attention_mask, RoBERTa position ids, mean pooling; trained on WordNet "
                    "definition/lemma pairs; proves that Hugging Face path",
        provenance={
            "data": "WordNet 3.0 synset definitions and lemma names (Debian package wordnet-base); the tokenizer "
                    "also on fortunes (package fortunes)",
            "licence": "weights: same licence as this repository; data: WordNet 3.0 licence (Princeton University, "
                       "permissive), fortunes (BSD-style / public domain)",
            "tokenizer": about,
        },
        objective="symmetric InfoNCE, definition <-> lemma names, in-batch negatives, temperature 0.05",
        reference_texts=REFERENCE_TOKENIZATION,
    ), args, train, held)


if __name__ == "__main__":
    main()
