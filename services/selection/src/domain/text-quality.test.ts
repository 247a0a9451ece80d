import { describe, expect, it } from 'vitest';
import {
  computeFilterWeights,
  endsWithTerminalPunctuation,
  hasFewDigits,
  hasMinWords,
  hasNoCurlyBraces,
  hasStopWords,
  isNotBoilerplate,
  isNotUppercase,
  type LineFilter,
  type Perplexity,
  qualityFilterNames,
  qualityFilters,
  qualityLines,
  scoreDocuments,
  textQuality,
} from './text-quality.js';

/**
 * A test double for the injected language model: the "perplexity" of a set of lines is their mean length in
 * characters, so every weight can be computed by hand. It records the line sets it was asked about.
 */
function meanLength(calls: string[][] = []): Perplexity {
  return async (lines) => {
    calls.push(lines);
    return lines.reduce((sum, l) => sum + l.length, 0) / lines.length;
  };
}

// Four lines of 10, 20, 30 and 40 characters, chosen for which of three filters they pass:
//                 terminal  ≥3 words  no braces
//   a (10 chars)     ✓         ✓         ✗
//   b (20 chars)     ✓         ✗         ✓
//   c (30 chars)     ✗         ✓         ✓
//   d (40 chars)     ✗         ✗         ✓
// PPL_all = (10 + 20 + 30 + 40) / 4 = 25
// terminal:  PPL = (10 + 20) / 2 = 15      → w = (25 − 15) / 25 = 0.4
// ≥3 words:  PPL = (10 + 30) / 2 = 20      → w = (25 − 20) / 25 = 0.2
// no braces: PPL = (20 + 30 + 40) / 3 = 30 → w = max(0, −0.2)   = 0
// Line scores: a (0.4 + 0.2) / 0.6 = 1, b 0.4 / 0.6 = 2/3, c 0.2 / 0.6 = 1/3, d 0.
const a = 'ab {c} de.';
const b = 'Twentycharacters ok.';
const c = 'one two three four five, sixty';
const d = 'abcdefghijabcdefghij abcdefghijabcdefghi';
const three = qualityFilters(['terminal-punctuation', 'min-words', 'no-curly-braces']);
// doc0: a (3 words, score 1) and d (2 words, score 0) → 3/5 = 0.6; doc1: 2/3; doc2: 1/3 (blank lines ignored);
// doc3: no words → 0.
const docs = [`${a}\n${d}`, b, `  ${c}  \n\n`, ''];

describe('computeFilterWeights', () => {
  it('gives w_i = max(0, (PPL_all − PPL_i) / PPL_all) on three filters', async () => {
    expect([a, b, c, d].map((l) => l.length)).toEqual([10, 20, 30, 40]);
    const w = await computeFilterWeights([a, b, c, d], three, meanLength());
    expect(w.filters).toEqual(['terminal-punctuation', 'min-words', 'no-curly-braces']);
    expect(w.pplAll).toBe(25);
    expect(Array.from(w.pplPerFilter)).toEqual([15, 20, 30]);
    expect(w.weights[0]).toBeCloseTo(0.4, 12);
    expect(w.weights[1]).toBeCloseTo(0.2, 12);
    expect(w.weights[2]).toBe(0);
    expect(Array.from(w.linesKept)).toEqual([2, 2, 3]);
    expect(w.fallbackToEqualWeights).toBe(false);
  });

  it('does not ask the model again for a filter that passes every line, and gives 0 to one that passes none', async () => {
    const calls: string[][] = [];
    const filters: LineFilter[] = [
      { name: 'all', passes: () => true },
      { name: 'none', passes: () => false },
    ];
    const w = await computeFilterWeights([a, b], filters, meanLength(calls));
    expect(calls).toEqual([[a, b]]);
    expect(Array.from(w.weights)).toEqual([0, 0]);
    expect(w.pplPerFilter[0]).toBe(15);
    expect(w.pplPerFilter[1]).toBeNaN();
    expect(w.fallbackToEqualWeights).toBe(true);
  });

  it('rejects an empty sample, no filters, repeated filters and a bad perplexity', async () => {
    await expect(computeFilterWeights([], three, meanLength())).rejects.toThrow(/^sampleLines must not be empty/);
    await expect(computeFilterWeights([a], [], meanLength())).rejects.toThrow(/^filters must not be empty/);
    await expect(computeFilterWeights([a], [...three, three[0] as LineFilter], meanLength())).rejects.toThrow(
      /^filters\[3\] repeats 'terminal-punctuation'/,
    );
    await expect(computeFilterWeights([a], three, async () => Number.NaN)).rejects.toThrow(
      /^perplexity must return a finite number > 0, got NaN for all sample lines/,
    );
  });
});

describe('scoreDocuments', () => {
  it('scores documents as the token-weighted mean of their line scores and keeps the top fraction', () => {
    const r = scoreDocuments(docs, [0.4, 0.2, 0], three, 0.5);
    expect(r.docScores[0]).toBeCloseTo(0.6, 12);
    expect(r.docScores[1]).toBeCloseTo(2 / 3, 12);
    expect(r.docScores[2]).toBeCloseTo(1 / 3, 12);
    expect(r.docScores[3]).toBe(0);
    expect(r.keepCount).toBe(2);
    expect(Array.from(r.kept)).toEqual([1, 1, 0, 0]);
    expect(r.fallbackToEqualWeights).toBe(false);
  });

  it('falls back to equal weights when they sum to 0, keeping the lower index on ties', () => {
    // Equal weights: a 2/3, b 2/3, c 2/3, d 1/3 → doc0 (3·2/3 + 2·1/3) / 5 = 8/15, doc1 2/3, doc2 2/3, doc3 0.
    const r = scoreDocuments(docs, [0, 0, 0], three, 0.5);
    expect(r.fallbackToEqualWeights).toBe(true);
    expect(r.docScores[0]).toBeCloseTo(8 / 15, 12);
    expect(r.docScores[1]).toBeCloseTo(2 / 3, 12);
    expect(r.docScores[2]).toBeCloseTo(2 / 3, 12);
    expect(Array.from(r.kept)).toEqual([0, 1, 1, 0]);
  });

  it('rejects weights that do not match the filters, naming them', () => {
    expect(() => scoreDocuments(docs, [0.4], three, 0.5)).toThrow(/^weights has 1 entries for 3 filters/);
    expect(() => scoreDocuments(docs, [0.4, -1, 0], three, 0.5)).toThrow(/^weights\[1\] must be a finite number/);
    expect(() => scoreDocuments(docs, [0.4, 0.2, 0], three, 0)).toThrow(/^keepFraction must be in \(0, 1\]/);
  });
});

describe('textQuality', () => {
  it('estimates the weights on the sampled documents and scores every document', async () => {
    const r = await textQuality(docs, { keepFraction: 0.5, perplexity: meanLength(), filters: three });
    expect(Array.from(r.sampleDocuments)).toEqual([0, 1, 2, 3]);
    expect(r.pplAll).toBe(25);
    expect(r.weights[0]).toBeCloseTo(0.4, 12);
    expect(Array.from(r.kept)).toEqual([1, 1, 0, 0]);
  });

  it('samples weightSampleSize documents with the seed', async () => {
    const options = { keepFraction: 0.5, perplexity: meanLength(), filters: three, weightSampleSize: 2, seed: 3 };
    const first = await textQuality(docs, options);
    const again = await textQuality(docs, options);
    expect(first.sampleDocuments.length).toBe(2);
    expect(Array.from(first.sampleDocuments)).toEqual(Array.from(again.sampleDocuments));
    expect(first.sampleDocuments[0]).toBeLessThan(first.sampleDocuments[1] as number);
  });

  it('refuses a sample without a non-blank line', async () => {
    await expect(textQuality(['', ' \n '], { keepFraction: 1, perplexity: meanLength() })).rejects.toThrow(/^texts/);
  });
});

describe('line filters', () => {
  it('terminal punctuation: . ! ? " or ” at the end', () => {
    expect(['Hello.', 'Wow!  ', 'Really?', 'He said "hi"', 'He said “hi”'].map(endsWithTerminalPunctuation)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['Menu', 'a,', 'Home »'].map(endsWithTerminalPunctuation)).toEqual([false, false, false]);
  });

  it('min words: at least 3 whitespace-separated words by default', () => {
    expect(hasMinWords('one two three')).toBe(true);
    expect(hasMinWords('one  two')).toBe(false);
    expect(hasMinWords('one two', 2)).toBe(true);
  });

  it('not uppercase: fails only when every cased letter is upper-case', () => {
    expect(['BUY NOW!', 'ÉTÉ 2024'].map(isNotUppercase)).toEqual([false, false]);
    expect(['Buy now', 'NASA is here', '1234 – 5678'].map(isNotUppercase)).toEqual([true, true, true]);
  });

  it('few digits: at most a quarter of the non-whitespace characters', () => {
    expect(hasFewDigits('abc1')).toBe(true);
    expect(hasFewDigits('a b c 1')).toBe(true);
    expect(hasFewDigits('ab12')).toBe(false);
    expect(hasFewDigits('ab12', 0.5)).toBe(true);
  });

  it('stop words: at least one from the list, ignoring case and surrounding punctuation', () => {
    expect(hasStopWords('The cat sat.')).toBe(true);
    expect(hasStopWords('(and)')).toBe(true);
    expect(hasStopWords('Buy cheap shoes')).toBe(false);
    expect(hasStopWords('the cat and dog', 2)).toBe(true);
    expect(hasStopWords('the cat', 2)).toBe(false);
  });

  it('no boilerplate: none of the listed phrases, case-insensitively', () => {
    const lines = [
      'We use Cookies to improve',
      'Please enable JavaScript.',
      'Terms  of Use',
      '© 2024 All rights reserved',
    ];
    expect(lines.map(isNotBoilerplate)).toEqual([false, false, false, false]);
    expect(['The river is wide.', 'Javanese script'].map(isNotBoilerplate)).toEqual([true, true]);
  });

  it('no curly braces', () => {
    expect(hasNoCurlyBraces('a {b}')).toBe(false);
    expect(hasNoCurlyBraces('a (b)')).toBe(true);
  });

  it('builds the named filters in order and rejects unknown names and thresholds', () => {
    expect(qualityFilters().map((f) => f.name)).toEqual([...qualityFilterNames]);
    expect(() => qualityFilters(['short' as never])).toThrow(/^filters\[0\] must be one of/);
    expect(() => qualityFilters(undefined, { minWords: 0 })).toThrow(/^minWords/);
    expect(() => qualityFilters(undefined, { maxDigitShare: 0 })).toThrow(/^maxDigitShare/);
  });

  it('splits documents into trimmed non-blank lines', () => {
    expect(qualityLines('  a b \r\n\n c\n')).toEqual(['a b', 'c']);
  });
});
