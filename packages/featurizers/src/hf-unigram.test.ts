import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildNormalizer } from './hf-normalizers.js';
import { precompiledNormalizer } from './hf-precompiled.js';
import { HfTokenizer, HfTokenizerError } from './hf-tokenizer.js';
import { buildUnigram } from './hf-unigram.js';

// A Unigram model in miniature, scores chosen so the best split is worked out by hand.
const pieces: [string, number][] = [
  ['<unk>', 0],
  ['a', -1],
  ['b', -1],
  ['c', -3],
  ['ab', -1.5], // "ab" alone beats a + b (-2)
  ['bc', -5], // b + c (-4) beats "bc"
  ['abc', -4.5], // ab + c (-4.5) ties it; the earlier-found path stays
  ['<0xC3>', -8],
  ['<0xA9>', -8],
];
const tiny = (model: Record<string, unknown> = {}) =>
  buildUnigram({ type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: false, ...model });

describe('Unigram model', () => {
  it('picks the split whose piece scores sum highest', () => {
    expect(tiny().tokenize('ab')).toEqual([4]); // -1.5 vs -2
    expect(tiny().tokenize('bc')).toEqual([2, 3]); // -4 vs -5
    expect(tiny().tokenize('abab')).toEqual([4, 4]);
    expect(tiny().tokenize('')).toEqual([]);
  });

  it('keeps the first best path on a tie, as the library does (strictly better replaces)', () => {
    // Reaching the end of "abc": ab + c is found from position 2 after "abc" from position 0, both -4.5.
    expect(tiny().tokenize('abc')).toEqual([6]);
  });

  it('fuses a run of unknown characters into one unk, or spells it in bytes with byte_fallback', () => {
    expect(tiny().tokenize('aééb')).toEqual([1, 0, 2]);
    expect(tiny().tokenize('éa')).toEqual([0, 1]);
    // é is C3 A9 in UTF-8; both byte pieces exist, so the fused "éé" becomes four byte tokens.
    expect(tiny({ byte_fallback: true }).tokenize('aééb')).toEqual([1, 7, 8, 7, 8, 2]);
    // "ü" is C3 BC: one byte piece is missing, so the whole run is unk again.
    expect(tiny({ byte_fallback: true }).tokenize('üb')).toEqual([0, 2]);
  });

  it('refuses text it cannot spell without an unk_id, and malformed vocabularies, naming the entry', () => {
    expect(() => tiny({ unk_id: null }).tokenize('aéb')).toThrow(/no piece starts with "é" in "aéb"/);
    expect(tiny({ unk_id: null }).tokenize('ab')).toEqual([4]);
    expect(() => tiny({ vocab: [] })).toThrow(/the vocab is empty/);
    expect(() => tiny({ unk_id: 99 })).toThrow(/unk_id 99 is outside the vocab of 9/);
    expect(() => tiny({ vocab: [['a', 'x']] })).toThrow(/vocab\[0\] must be \[piece, score\]/);
    expect(() => tiny({ unk_id: -1 })).toThrow(HfTokenizerError);
  });
});

describe('Replace normalizer', () => {
  it('replaces a regex pattern, and writes the content literally ($& included)', () => {
    const spaces = buildNormalizer({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' })!;
    expect(spaces('a  b     c d')).toBe('a b c d');
    const dollars = buildNormalizer({ type: 'Replace', pattern: { String: 'x' }, content: '$&$$' })!;
    expect(dollars('axb')).toBe('a$&$$b');
    expect(() => buildNormalizer({ type: 'Replace', pattern: {}, content: '' })).toThrow(/String.*or.*Regex/);
  });
});

describe('Precompiled normalizer', () => {
  const fixture = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../../models/mini-xlmr-encoder/1/tokenizer.json', import.meta.url)), 'utf8'),
  );
  const charsmap: string = fixture.normalizer.normalizers[0].precompiled_charsmap;

  it("applies SentencePiece's nmt_nfkc rules: compatibility forms, whitespace, composition", () => {
    const normalize = precompiledNormalizer(charsmap);
    expect(normalize('plain ASCII stays')).toBe('plain ASCII stays');
    expect(normalize('ﬁne ① Ｈｉ ½')).toBe('fine 1 Hi 1⁄2');
    expect(normalize('e\u0301')).toBe('é'); // one grapheme, composed
    expect(normalize('tab\there')).toBe('tab here');
  });

  it('refuses a map too short or whose trie does not fit, naming the field', () => {
    expect(() => precompiledNormalizer('AAA=')).toThrow(/precompiled_charsmap: 2 bytes, too short/);
    expect(() => precompiledNormalizer(Buffer.from([8, 0, 0, 0, 1, 2]).toString('base64'))).toThrow(
      /trie size 8 does not fit the map's 6 bytes/,
    );
    // A one-unit trie, then an invalid UTF-8 byte where the replacement strings start.
    expect(() => precompiledNormalizer(Buffer.from([4, 0, 0, 0, 0, 0, 0, 0, 0xff]).toString('base64'))).toThrow(
      /replacement strings are not UTF-8/,
    );
    expect(() => new HfTokenizer({ ...fixture, normalizer: { type: 'Precompiled' } })).toThrow(
      /precompiled_charsmap must be a base64 string/,
    );
  });
});
