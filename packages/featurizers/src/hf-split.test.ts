import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { oniguramaToRegExp } from './hf-oniguruma.js';
import { HfTokenizer } from './hf-tokenizer.js';

/**
 * The Split pre-tokenizer as Llama 3 and Qwen2 configure it, checked against the reference library
 * (npm `tokenizers`, the Rust implementation): bpe-gpt's byte-level vocabulary and merges with each model's
 * pre-tokenization, the same ids for every text.
 */
const bpeGpt = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../models/bpe-gpt/1/tokenizer.json', import.meta.url)), 'utf8'),
);
const LLAMA3 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
const split = (pattern: Record<string, string>, behavior = 'Isolated', invert = false) => ({
  type: 'Split',
  pattern,
  behavior,
  invert,
});

const variants: Record<string, Record<string, unknown>> = {
  'Llama 3': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: LLAMA3 }), byteLevel] },
    model: { ...bpeGpt.model, ignore_merges: true },
  },
  Qwen2: {
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: QWEN2 }), byteLevel] },
  },
  'string pattern, merged with next': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ String: ' ' }, 'MergedWithNext'), byteLevel] },
  },
  'inverted regex, removed': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: '\\p{L}+|\\d+' }, 'Removed', true), byteLevel] },
  },
  'regex, merged with previous': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: '[.,;!?]+' }, 'MergedWithPrevious'), byteLevel] },
  },
};

const texts = [
  'The quick brown fox jumps over the lazy dog.',
  "DON'T you're WE'LL they'VE I'm it's",
  'Numbers: 1234567 and 3.14159, 2026-11-27; 00042!',
  '  multiple   spaces\n\n\tand tabs\r\nand CRLF lines   \n',
  'naïve café, 東京, Ünïcödé — “quotes” and emoji 🙂👍🏽',
  'NEL\u0085between, NBSP\u00a0here, ideographic\u3000space',
  'x = [i**2 for i in range(10)]  # comment\n    return {"a": 1}',
  'e\u0301 (decomposed é) and Å vs \u212b',
  readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8').slice(0, 4000),
];

describe('the Split pre-tokenizer against the reference library', () => {
  for (const [name, overrides] of Object.entries(variants)) {
    it(`${name}: the same ids as tokenizers for every text`, async () => {
      const json = { ...bpeGpt, ...overrides };
      const ours = new HfTokenizer(json);
      const reference = Tokenizer.fromString(JSON.stringify(json));
      for (const text of texts) {
        const expected = (await reference.encode(text, null, { addSpecialTokens: false })).getIds();
        expect({ text, ids: ours.tokenize(text) }).toEqual({ text, ids: expected });
      }
    });
  }
});

describe('Oniguruma patterns as JavaScript regular expressions', () => {
  it('spells case-insensitive groups, Unicode classes and scripts for RegExp', () => {
    expect(oniguramaToRegExp("(?i:'s|'re)").source).toBe("(?:'[sS]|'[rR][eE])");
    expect(oniguramaToRegExp('\\s+(?!\\S)').source).toBe('\\p{White_Space}+(?!\\P{White_Space})');
    expect(oniguramaToRegExp('[^\\s\\p{L}]').source).toBe('[^\\p{White_Space}\\p{L}]');
    expect(oniguramaToRegExp('\\p{Han}+').source).toBe('\\p{Script=Han}+');
    expect(oniguramaToRegExp('\\d').test('٣')).toBe(true); // Arabic-Indic three: Unicode Nd, as in Oniguruma
  });

  it('refuses what RegExp cannot express, naming it', () => {
    expect(() => oniguramaToRegExp('(?>a|ab)c')).toThrow(/uses the group \(\?>a\|…, which is not supported/);
    expect(() => oniguramaToRegExp('a++')).toThrow(/possessive quantifier/);
    expect(() => oniguramaToRegExp('\\Aabc')).toThrow(/the escape \\A/);
    expect(() => oniguramaToRegExp('\\p{NoSuchThing}')).toThrow(/the Unicode property NoSuchThing/);
  });
});
