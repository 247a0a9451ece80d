import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { byteToken } from './hf-bpe.js';
import { BYTE_CHARS } from './hf-byte-level.js';
import { HfTokenizer } from './hf-tokenizer.js';

/**
 * SentencePiece-style BPE files, as Llama 2 and Mistral ship them: words marked by "▁", characters missing
 * from the vocabulary spelled by `<0xHH>` byte tokens (byte_fallback), with the marker either written by the
 * normalizer (Prepend + Replace, older files) or by a Metaspace pre-tokenizer (newer ones). bpe-gpt's
 * vocabulary and merges, respelt that way, are tokenized by this implementation and by the reference
 * library (npm `tokenizers`); the ids must agree.
 */
const bpeGpt = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../models/bpe-gpt/1/tokenizer.json', import.meta.url)), 'utf8'),
);

/** bpe-gpt's vocabulary respelt as text with "▁" for spaces; tokens that are not whole characters go. */
function sentencePieceModel(): Record<string, unknown> {
  const byteOf = new Map(BYTE_CHARS.map((ch, b) => [ch, b]));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const respell = (token: string): string | undefined => {
    const bytes = [...token].map((ch) => byteOf.get(ch));
    if (bytes.some((b) => b === undefined)) return undefined;
    try {
      return decoder.decode(Uint8Array.from(bytes as number[])).replaceAll(' ', '▁');
    } catch {
      return undefined;
    }
  };
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[byteToken(b)] = 3 + b;
  const byId = Object.entries(bpeGpt.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]);
  for (const [token] of byId) {
    const text = respell(token);
    if (text !== undefined && !(text in vocab)) vocab[text] = Object.keys(vocab).length;
  }
  const merges: [string, string][] = [];
  for (const merge of bpeGpt.model.merges as ([string, string] | string)[]) {
    const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
    const left = respell(a ?? '');
    const right = respell(b ?? '');
    if (left !== undefined && right !== undefined && `${left}${right}` in vocab) merges.push([left, right]);
  }
  return {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    ignore_merges: false,
    vocab,
    merges,
  };
}

const special = (content: string, id: number) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});
const base = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
  post_processor: null,
  decoder: null,
  model: sentencePieceModel(),
};
const variants: Record<string, Record<string, unknown>> = {
  'Llama 2 (Prepend + Replace normalizer)': {
    ...base,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
  },
  'Metaspace, prepend first, no split': {
    ...base,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
  },
  'Metaspace, prepend always, split': {
    ...base,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  },
};

const texts = [
  'The quick brown fox jumps over the lazy dog.',
  '  two leading spaces, and   three inside',
  'naïve café, 東京 🙂 — bytes the vocabulary lacks fall back to <0x..> tokens',
  '<s>after a special token</s> and between <s> them',
  'tabs\tand\nnewlines\r\n',
  readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8').slice(0, 3000),
];

describe('SentencePiece-style BPE files against the reference library', () => {
  for (const [name, json] of Object.entries(variants)) {
    it(`${name}: the same ids as tokenizers, and every byte counted`, async () => {
      const ours = new HfTokenizer(json);
      expect(ours.wordMarker).toBe('▁');
      const reference = Tokenizer.fromString(JSON.stringify(json));
      for (const text of texts) {
        const expected = (await reference.encode(text, null, { addSpecialTokens: false })).getIds();
        const ids = ours.tokenize(text);
        expect({ text, ids }).toEqual({ text, ids: expected });
        // Bytes per token add up to the text's bytes, plus at most one marker prepended to each piece (the
        // text's start, and the text after each special token <s>, </s> (ids 1 and 2) where the scheme says).
        const counted = ids.reduce((n, id) => n + ours.tokenByteLength(id), 0);
        const pieces = 1 + ids.filter((id) => id === 1 || id === 2).length;
        expect(counted - Buffer.byteLength(text)).toBeGreaterThanOrEqual(0);
        expect(counted - Buffer.byteLength(text)).toBeLessThanOrEqual(pieces);
      }
      // A character the vocabulary lacks is spelt by its UTF-8 bytes.
      const emoji = ours.tokenize('🙂');
      expect(emoji.slice(-4)).toEqual([0xf0, 0x9f, 0x99, 0x82].map((b) => 3 + b));
    });
  }
});
