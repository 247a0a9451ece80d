import { describe, expect, it } from 'vitest';
import { CodeNgramsFeaturizer } from './code-ngrams.js';
import { fnv1a32 } from './fnv1a.js';

const H = 1 << 20;

/** The feature definition written out with plain strings: feature -> bucket -> 1 + ln(count). */
function expectedRow(features: string[], buckets = H): Map<number, number> {
  const counts = new Map<number, number>();
  for (const f of features) {
    const b = fnv1a32(f) % buckets;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return new Map([...counts].map(([b, c]) => [b, Math.fround(1 + Math.log(c))]));
}

function asMap(e: { buckets: Int32Array; values: Float32Array }): Map<number, number> {
  return new Map(Array.from(e.buckets, (b, i) => [b, e.values[i]!]));
}

describe('CodeNgramsFeaturizer', () => {
  const featurizer = new CodeNgramsFeaturizer({ buckets: H, maxTokens: 16, charNgramMin: 3, charNgramMax: 5 });

  it('hashes sub-words, the whole identifier, sub-word bigrams and char 3-5-grams', () => {
    const e = featurizer.encode('fooBar');
    const features = ['u:foo', 'c:<fo', 'c:<foo', 'c:<foo>', 'c:foo', 'c:foo>', 'c:oo>'];
    features.push('u:bar', 'b:foo bar', 'c:<ba', 'c:<bar', 'c:<bar>', 'c:bar', 'c:bar>', 'c:ar>', 'u:foobar');
    expect(asMap(e)).toEqual(expectedRow(features));
    expect(Array.from(e.buckets)).toEqual([...e.buckets].sort((a, b) => a - b));
  });

  it('uses sublinear tf 1 + ln(count) and bigrams across identifiers, and hashes operators', () => {
    const e = featurizer.encode('a = a.a');
    const features = ['u:a', 'c:<a>', 'o:=', 'u:a', 'b:a a', 'c:<a>', 'o:.', 'u:a', 'b:a a', 'c:<a>'];
    expect(asMap(e)).toEqual(expectedRow(features));
    expect(e.values).toContain(Math.fround(1 + Math.log(3)));
  });

  it('encodes the composed and decomposed spellings of an identifier alike', () => {
    const composed = featurizer.encode('const caf\u00e9Menu = 1');
    const decomposed = featurizer.encode('const cafe\u0301Menu = 1');
    expect(asMap(decomposed)).toEqual(asMap(composed));
    expect(asMap(composed).get(fnv1a32('u:caf\u00e9menu') % H)).toBe(1);
  });

  it('ignores numbers as features but counts them as tokens', () => {
    const e = featurizer.encode('42');
    expect(e.buckets.length).toBe(0);
    expect(e.tokenCount).toBe(1);
  });

  it('uses only the first maxTokens tokens and reports the cut', () => {
    const small = new CodeNgramsFeaturizer({ buckets: H, maxTokens: 2 });
    const e = small.encode('ab + cd');
    expect(e).toMatchObject({ tokenCount: 3, fedTokens: 2, truncated: true });
    expect(asMap(e)).toEqual(expectedRow(['u:ab', 'c:<ab', 'c:<ab>', 'c:ab>', 'o:+']));
  });

  it('collates sparse rows into dense features [batch, buckets]', () => {
    const f = new CodeNgramsFeaturizer({ buckets: 8, maxTokens: 16 });
    const rows = [f.encode('x'), f.encode('')];
    const feeds = f.collate(rows);
    expect(feeds.features!.dtype).toBe('float32');
    expect(feeds.features!.dims).toEqual([2, 8]);
    const dense = Array.from(feeds.features!.data as Float32Array);
    const expected = new Array(16).fill(0);
    for (const [b, v] of expectedRow(['u:x', 'c:<x>'], 8)) expected[b] = v;
    expect(dense).toEqual(expected);
  });

  it('rejects a charNgramMax below charNgramMin', () => {
    expect(() => new CodeNgramsFeaturizer({ buckets: 8, maxTokens: 4, charNgramMin: 4, charNgramMax: 3 })).toThrow(
      /charNgramMax/,
    );
  });
});
