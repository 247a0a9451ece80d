import { describe, expect, it } from 'vitest';
import { codeTokenCount, longFilePruning } from './long-file-pruning.js';

describe('longFilePruning by token share', () => {
  it('drops exactly the 10 of [10, 1, 5, 4] for a share of 0.5 (10 of 20 tokens)', () => {
    const r = longFilePruning([10, 1, 5, 4], { tokenShare: 0.5 });
    expect(Array.from(r.kept)).toEqual([0, 1, 1, 1]);
    expect(r).toMatchObject({
      mode: 'token-share',
      removed: 1,
      removedTokens: 10,
      totalTokens: 20,
      removedShare: 0.5,
      threshold: 10,
    });
  });

  it('keeps dropping the next longest until the share is reached', () => {
    // 10/20 = 0.5 < 0.6, then 15/20 = 0.75.
    const r = longFilePruning(Int32Array.of(10, 1, 5, 4), { tokenShare: 0.6 });
    expect(Array.from(r.kept)).toEqual([0, 1, 0, 1]);
    expect(r.removedTokens).toBe(15);
    expect(r.threshold).toBe(5);
  });

  it('drops the higher index first among equal lengths', () => {
    // 15 tokens, 0.3 needs 4.5: one of the two 5s, the later one.
    expect(Array.from(longFilePruning([3, 5, 5, 2], { tokenShare: 0.3 }).kept)).toEqual([1, 1, 0, 1]);
  });

  it('stops at 3 of 10 tokens for a share of 0.3, although 0.3 · 10 > 3 in binary', () => {
    const r = longFilePruning([3, 3, 3, 1], { tokenShare: 0.3 });
    expect(Array.from(r.kept)).toEqual([1, 1, 0, 1]);
    expect(r.removedShare).toBe(0.3);
  });

  it('drops nothing when there are no tokens', () => {
    const r = longFilePruning([0, 0], { tokenShare: 0.5 });
    expect(Array.from(r.kept)).toEqual([1, 1]);
    expect(r).toMatchObject({ removed: 0, totalTokens: 0, removedShare: 0, threshold: undefined });
  });
});

describe('longFilePruning by max tokens', () => {
  it('drops every record longer than maxTokens, keeping one of exactly maxTokens', () => {
    const r = longFilePruning([10, 1, 5, 4], { maxTokens: 4 });
    expect(Array.from(r.kept)).toEqual([0, 1, 0, 1]);
    expect(r).toMatchObject({ mode: 'max-tokens', removed: 2, removedTokens: 15, removedShare: 0.75, threshold: 5 });
  });

  it('drops nothing when every record fits', () => {
    const r = longFilePruning([10, 1], { maxTokens: 10 });
    expect(r.removed).toBe(0);
    expect(r.threshold).toBeUndefined();
  });
});

describe('longFilePruning parameter checks', () => {
  it('rejects bad limits and counts, naming them', () => {
    expect(() => longFilePruning([1], {})).toThrow(/^tokenShare or maxTokens must be set/);
    expect(() => longFilePruning([1], { tokenShare: 0.5, maxTokens: 3 })).toThrow(/^tokenShare or maxTokens/);
    expect(() => longFilePruning([1], { tokenShare: 1 })).toThrow(/^tokenShare must be in \(0, 1\)/);
    expect(() => longFilePruning([1], { maxTokens: -1 })).toThrow(/^maxTokens must be an integer/);
    expect(() => longFilePruning([1, -2], { maxTokens: 1 })).toThrow(/^tokenCounts\[1\] must be an integer >= 0/);
    expect(() => longFilePruning([1.5], { maxTokens: 1 })).toThrow(/^tokenCounts\[0\]/);
  });
});

describe('codeTokenCount', () => {
  it('counts identifiers, numbers and operators, and the words of string literals and comments', () => {
    // x = foo ( 1 , ) → 7, "a b c" → 3, then "# two words" → 3.
    expect(codeTokenCount('x = foo(1, "a b c")  # two words', 'python')).toBe(13);
    // a >>= 2 ; → 4, then "// hi there" → 3.
    expect(codeTokenCount('a >>= 2; // hi there', 'c-like')).toBe(7);
  });

  it('counts a docstring by its words and ignores whitespace', () => {
    const text = 'def f():\n    """Many\n    words here."""\n\n    return   0\n';
    // def f ( ) : → 5, """Many words here.""" → 3, return 0 → 2
    expect(codeTokenCount(text)).toBe(10);
    expect(codeTokenCount('')).toBe(0);
  });

  it('ranks a file that is one long literal by its length, a token per 8 characters of a word', () => {
    const blob = `DATA = "${'QUJD'.repeat(25_000)}"`;
    // DATA = → 2; the literal is one 100,002-character word → 12,501.
    expect(codeTokenCount(blob, 'python')).toBe(2 + Math.ceil(100_002 / 8));
    const code = Array.from({ length: 50 }, (_, i) => `x${i} = compute(x${i} + ${i})`).join('\n');
    expect(codeTokenCount(code, 'python')).toBe(50 * 8);
    expect(Array.from(longFilePruning([codeTokenCount(blob), codeTokenCount(code)], { tokenShare: 0.5 }).kept)).toEqual(
      [0, 1],
    );
  });

  it('reads // as floor division in Python and as a comment in C-like code', () => {
    expect(codeTokenCount('a // b', 'python')).toBe(3);
    expect(codeTokenCount('a // b', 'c-like')).toBe(3);
    expect(codeTokenCount('a //b c', 'c-like')).toBe(3);
    expect(codeTokenCount('a //b c', 'python')).toBe(4);
  });
});
