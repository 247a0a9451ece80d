import { SiftError } from '@sift/kit/errors';
import { describe, expect, it } from 'vitest';
import { compareIdsBytewise, exactDedup, exactDigest, exactIndexOf } from './exact-dedup.js';
import { normalizeText, noTextNormalization, type TextNormalization } from './text-normalization.js';

const only = (option: keyof TextNormalization): TextNormalization => ({ ...noTextNormalization, [option]: true });

describe('normalizeText', () => {
  it('changes nothing with every option off', () => {
    expect(normalizeText('  Ｆｕｌｌ-width ﬁ 42!  ', noTextNormalization)).toBe('  Ｆｕｌｌ-width ﬁ 42!  ');
  });

  it.each([
    ['unicodeNfkc', 'Ｆｕｌｌ ﬁ １２ é', 'Full fi 12 é'],
    ['lowercase', 'Hello ÉCOLE', 'hello école'],
    ['collapseWhitespace', ' a \t\n b\u00a0 c ', 'a b c'],
    ['stripPunctuation', 'don’t stop—now, «ok»!', 'dont stopnow ok'],
    ['maskDigits', 'v1.2 in 2024, ٣ items', 'v0.0 in 0000, 0 items'],
  ] as const)('%s: %j becomes %j', (option, input, expected) => {
    expect(normalizeText(input, only(option))).toBe(expected);
  });

  it('runs NFKC before digit masking and collapses the gaps punctuation leaves', () => {
    const all = {
      unicodeNfkc: true,
      lowercase: true,
      collapseWhitespace: true,
      stripPunctuation: true,
      maskDigits: true,
    };
    expect(normalizeText('Item １２ - OK', all)).toBe('item 00 ok');
  });
});

describe('exactDedup', () => {
  it('hashes to 128-bit hex digests, equal exactly for equal texts', () => {
    const r = exactDedup(['a', 'b', 'a']);
    expect(r.hashes[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(r.hashes[0]).toBe(r.hashes[2]);
    expect(r.hashes[0]).not.toBe(r.hashes[1]);
    expect(r.hashes[0]).toBe(exactDigest('a'));
  });

  it.each([
    ['unicodeNfkc', 'ﬁle １', 'file 1'],
    ['lowercase', 'Hello', 'hELLo'],
    ['collapseWhitespace', 'a  b\n', 'a b'],
    ['stripPunctuation', 'a, b!', 'a b'],
    ['maskDigits', 'room 101', 'room 202'],
  ] as const)('with %s, %j and %j are duplicates; without it they are not', (option, a, b) => {
    expect(Array.from(exactDedup([a, b], { normalization: only(option) }).kept)).toEqual([1, 0]);
    expect(Array.from(exactDedup([a, b]).kept)).toEqual([1, 1]);
  });

  it('keeps the first, the last or the smallest id of each group', () => {
    const texts = ['x', 'y', 'x', 'x'];
    const ids = ['m', 'q', 'z', 'a'];
    const first = exactDedup(texts, { keep: 'first' });
    expect(Array.from(first.kept)).toEqual([1, 1, 0, 0]);
    expect(Array.from(first.duplicateOf)).toEqual([-1, -1, 0, 0]);
    expect(first.removed).toBe(2);
    expect(Array.from(exactDedup(texts, { keep: 'last' }).duplicateOf)).toEqual([3, -1, 3, -1]);
    expect(Array.from(exactDedup(texts, { keep: 'smallest-id', ids }).duplicateOf)).toEqual([3, -1, 3, -1]);
  });

  it('drops records found in an earlier dataset’s index, with the indexed id; indexed records win', () => {
    const earlier = exactDedup(['old one', 'old two', 'old one']);
    const index = exactIndexOf(earlier, ['e0', 'e1', 'e2']);
    expect([...index.records.values()]).toEqual(['e0', 'e1']);
    const r = exactDedup(['new', 'old two', 'old two', 'new'], { index });
    expect(Array.from(r.duplicateOf)).toEqual([-1, -2, -2, 0]);
    expect(r.indexedDuplicateOf).toEqual(['', 'e1', 'e1', '']);
    expect(r.removed).toBe(3);
  });

  it('rejects an index built with another normalisation', () => {
    const index = exactIndexOf(exactDedup(['a']), ['a']);
    expect(() => exactDedup(['a'], { normalization: only('lowercase'), index })).toThrow(
      /^index was built with normalisation \(none\), the step uses \(lowercase\)/,
    );
  });

  it('requires ids for smallest-id, one per text', () => {
    const error = (() => {
      try {
        exactDedup(['a'], { keep: 'smallest-id' });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(SiftError);
    expect((error as SiftError).kind).toBe('invalid_argument');
    expect(() => exactDedup(['a', 'b'], { ids: ['1'] })).toThrow(/^ids must have one id per text \(2\), got 1/);
  });
});

describe('compareIdsBytewise', () => {
  it('orders by UTF-8 bytes: U+FFFF before U+10000, unlike UTF-16 comparison', () => {
    expect('\u{10000}' < '\uffff').toBe(true);
    expect(compareIdsBytewise('\uffff', '\u{10000}')).toBeLessThan(0);
    expect(compareIdsBytewise('a', 'ab')).toBeLessThan(0);
    expect(compareIdsBytewise('b', 'a')).toBeGreaterThan(0);
    expect(compareIdsBytewise('é', 'é')).toBe(0);
  });
});
