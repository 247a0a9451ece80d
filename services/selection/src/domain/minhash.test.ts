import { seededRandom } from '@sift/numeric';
import { describe, expect, it } from 'vitest';
import {
  chooseBandsRows,
  jaccardSimilarity,
  MinHasher,
  minHashDedup,
  minHashIndexOf,
  minHashPrime,
  minHashSignatures,
  resolveMinHashParams,
  sCurve,
  shingleSet,
  signatureAgreement,
} from './minhash.js';
import { noTextNormalization } from './text-normalization.js';

// Deterministic "documents": words w0…w999 drawn uniformly, so unrelated documents share almost no 5-gram.
function words(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => `w${Math.floor(random() * 1000)}`);
}
const replaced = (w: readonly string[], positions: readonly number[]) =>
  w.map((word, i) => (positions.includes(i) ? `new${i}` : word));
const text = (w: readonly string[]) => w.join(' ');
const jaccardOf = (a: string, b: string, ngramSize = 5) =>
  jaccardSimilarity(shingleSet(a, { ngramSize }), shingleSet(b, { ngramSize }));

describe('shingles and exact Jaccard', () => {
  it('word 2-grams of six words are five shingles; one changed last word leaves 4 of 6 in common', () => {
    expect(shingleSet('a b c d e f', { ngramSize: 2 })).toHaveLength(5);
    expect(jaccardOf('a b c d e f', 'a b c d e g', 2)).toBeCloseTo(4 / 6, 12);
  });

  it('character 3-grams: abcd = {abc, bcd}, abce = {abc, bce}, so J = 1/3', () => {
    const opts = { shingleUnit: 'character' as const, ngramSize: 3 };
    expect(shingleSet('abcd', opts)).toHaveLength(2);
    expect(jaccardSimilarity(shingleSet('abcd', opts), shingleSet('abce', opts))).toBeCloseTo(1 / 3, 12);
  });

  it('splits words on whitespace and punctuation, and lower-cases only when asked', () => {
    const lower = { ngramSize: 2, normalization: { ...noTextNormalization, lowercase: true } };
    expect(jaccardSimilarity(shingleSet('Hello, world!', lower), shingleSet('hello   world', lower))).toBe(1);
    expect(jaccardOf('Hello, world!', 'hello world', 2)).toBe(0);
  });

  it('counts a repeated shingle once, makes a short document one shingle, and calls two empty documents equal', () => {
    expect(shingleSet('a a a a', { ngramSize: 1 })).toHaveLength(1);
    expect(shingleSet('a b', { ngramSize: 5 })).toHaveLength(1);
    expect(shingleSet(' ,. ', {})).toHaveLength(0);
    expect(jaccardOf('', '...')).toBe(1);
    expect(jaccardOf('', 'a')).toBe(0);
  });

  it('one word changed in the middle of 40 touches 5 of 36 five-word shingles: J = 31/41; at the start, J = 35/37', () => {
    const w = words(40, 1);
    expect(jaccardOf(text(w), text(replaced(w, [20])))).toBeCloseTo(31 / 41, 12);
    expect(jaccardOf(text(w), text(replaced(w, [0])))).toBeCloseTo(35 / 37, 12);
  });
});

describe('MinHasher', () => {
  it.each(['wasm', 'js'] as const)(
    '%s kernel: computes min_x (a_i·x + b_i) mod (2^31 − 1) exactly (checked against BigInt)',
    (kernel) => {
      const hasher = new MinHasher(13, 42, kernel);
      const random = seededRandom(5);
      const shingles = Uint32Array.from({ length: 37 }, () => Math.floor(random() * 2 ** 32));
      shingles[0] = 0xffffffff;
      shingles[1] = 0;
      const out = new Uint32Array(13);
      hasher.signature(shingles, shingles.length, out, 0);
      const p = BigInt(minHashPrime);
      for (let i = 0; i < 13; i++) {
        const { a, b } = hasher.coefficients(i);
        expect(a).toBeGreaterThan(0);
        let min = p;
        for (const s of shingles) {
          const h = (BigInt(a) * BigInt(s >>> 1) + BigInt(b)) % p;
          if (h < min) min = h;
        }
        expect(out[i]).toBe(Number(min));
      }
    },
  );

  it('WebAssembly and TypeScript kernels give identical signatures, for odd counts, odd P and a document that grows the memory', () => {
    const random = seededRandom(11);
    for (const p of [1, 5, 128, 257]) {
      const wasm = new MinHasher(p, p * 7 + 1, 'wasm');
      const js = new MinHasher(p, p * 7 + 1, 'js');
      // 40,000 shingles need 160 kB, more than the kernel's first 64 kB page; the small ones after reuse it.
      for (const count of [0, 1, 2, 3, 200, 40_000, 7]) {
        const shingles = Uint32Array.from({ length: count + 3 }, () => Math.floor(random() * 2 ** 32));
        const a = new Uint32Array(p + 2);
        const b = new Uint32Array(p + 2);
        wasm.signature(shingles, count, a, 1);
        js.signature(shingles, count, b, 1);
        expect(a, `P = ${p}, ${count} shingles`).toEqual(b);
        expect(a[0]).toBe(0); // nothing written outside [offset, offset + P)
        expect(a[p + 1]).toBe(0);
      }
    }
  });

  it('gives a document without shingles p in every position, and the same seed the same signatures', () => {
    const sig = minHashSignatures(['', 'a b c d e f g'], { numPermutations: 8, seed: 3 });
    expect(Array.from(sig.subarray(0, 8))).toEqual(new Array(8).fill(minHashPrime));
    expect(minHashSignatures(['a b c d e f g'], { numPermutations: 8, seed: 3 })).toEqual(sig.subarray(8));
    expect(minHashSignatures(['a b c d e f g'], { numPermutations: 8, seed: 4 })).not.toEqual(sig.subarray(8));
  });

  it('agreement of 256 positions estimates J within 4 standard errors', () => {
    const w = words(200, 2);
    const b = replaced(w, [10, 50, 90, 130, 170]); // J = 171/221
    const exact = jaccardOf(text(w), text(b));
    const sig = minHashSignatures([text(w), text(b)], { numPermutations: 256, seed: 9 });
    const se = Math.sqrt((exact * (1 - exact)) / 256);
    expect(Math.abs(signatureAgreement(sig, 256, 0, 1) - exact)).toBeLessThan(4 * se);
  });
});

describe('chooseBandsRows', () => {
  it.each([0.5, 0.7, 0.8, 0.9])('puts the S-curve 50%% point near t = %f with b·r <= 128', (t) => {
    const { bands, rows } = chooseBandsRows(128, t);
    expect(bands * rows).toBeLessThanOrEqual(128);
    const half = (1 - 0.5 ** (1 / bands)) ** (1 / rows);
    expect(sCurve(half, bands, rows)).toBeCloseTo(0.5, 12);
    expect(Math.abs(half - t)).toBeLessThan(0.03);
  });

  it('picks 9 bands of 13 rows at t = 0.8 and 5 × 25 at t = 0.9', () => {
    expect(chooseBandsRows(128, 0.8)).toEqual({ bands: 9, rows: 13 });
    expect(chooseBandsRows(128, 0.9)).toEqual({ bands: 5, rows: 25 });
  });

  it('leans to recall when candidates are verified: 14 × 9 at t = 0.8, catching 87% of pairs at J = 0.8', () => {
    const verified = resolveMinHashParams({}, 0.8);
    expect(verified).toMatchObject({ bands: 14, rows: 9 });
    expect(sCurve(0.8, 14, 9)).toBeCloseTo(0.867, 3);
    expect(sCurve(0.8, 9, 13)).toBeCloseTo(0.399, 3);
    expect(resolveMinHashParams({ verifyCandidates: false }, 0.8)).toMatchObject({ bands: 9, rows: 13 });
  });
});

describe('minHashDedup', () => {
  it('finds two 40-word documents that differ in one word (J = 35/37) at t = 0.8 with 128 permutations', () => {
    const w = words(40, 3);
    const r = minHashDedup([text(w), text(words(40, 4)), text(replaced(w, [0]))]);
    expect([r.bands, r.rows]).toEqual([14, 9]);
    expect(Array.from(r.kept)).toEqual([1, 1, 0]);
    expect(Array.from(r.duplicateOf)).toEqual([-1, -1, 0]);
    expect(r.jaccard[2]).toBeCloseTo(35 / 37, 6);
    expect(r.jaccard[0]).toBeNaN();
    expect(r.verifiedPairs).toBe(1);
  });

  it('keeps a pair below the threshold once verified (J = 31/41 < 0.8), even when LSH pairs it', () => {
    const w = words(40, 5);
    const r = minHashDedup([text(w), text(replaced(w, [20]))], { bands: 32 }); // 32 × 4: pairs J ≈ 0.76 surely
    expect(r.candidatePairs).toBe(1);
    expect(r.verifiedPairs).toBe(0);
    expect(Array.from(r.kept)).toEqual([1, 1]);
  });

  it('does not pair unrelated documents', () => {
    const texts = Array.from({ length: 50 }, (_, i) => text(words(60, 100 + i)));
    const r = minHashDedup(texts);
    expect(r.removed).toBe(0);
    expect(r.candidatePairs).toBe(0);
  });

  it('joins a chain a~b, b~c into one component with one survivor although a and c are not similar', () => {
    const a = words(100, 6); // 96 shingles; two edits: J = 86/106 ≈ 0.81; four: J = 76/116 ≈ 0.66
    const b = replaced(a, [10, 30]);
    const c = replaced(b, [60, 80]);
    const r = minHashDedup([text(a), text(b), text(c)], { bands: 32 });
    expect(r.verifiedPairs).toBe(2);
    expect(Array.from(r.kept)).toEqual([1, 0, 0]);
    expect(Array.from(r.duplicateOf)).toEqual([-1, 0, 0]);
    expect(r.jaccard[1]).toBeCloseTo(86 / 106, 6);
    expect(r.jaccard[2]).toBeCloseTo(76 / 116, 6); // similarity to the survivor, below t
  });

  it('applies the keep rules first, last and smallest-id', () => {
    const w = words(60, 7);
    const texts = [text(w), text(words(60, 8)), text(replaced(w, [59]))];
    const ids = ['b', 'x', 'a'];
    expect(Array.from(minHashDedup(texts, { keep: 'first' }).duplicateOf)).toEqual([-1, -1, 0]);
    expect(Array.from(minHashDedup(texts, { keep: 'last' }).duplicateOf)).toEqual([2, -1, -1]);
    expect(Array.from(minHashDedup(texts, { keep: 'smallest-id', ids }).duplicateOf)).toEqual([2, -1, -1]);
  });

  it('without verification reports the signature agreement as the similarity', () => {
    const w = words(100, 9);
    const texts = [text(w), text(w)];
    const r = minHashDedup(texts, { verifyCandidates: false });
    expect(Array.from(r.kept)).toEqual([1, 0]);
    expect(r.jaccard[1]).toBe(1);
    expect(r.verifiedPairs).toBe(0);
  });

  it('drops documents matching an earlier dataset’s index with the indexed id, and exports its own', () => {
    const old = [words(80, 10), words(80, 11)];
    const first = minHashDedup(old.map(text), { seed: 7 });
    const index = minHashIndexOf(first, ['old-0', 'old-1']);
    expect(index.ids).toEqual(['old-0', 'old-1']);
    expect(index.bandKeys).toHaveLength(2 * first.bands * 2);

    const fresh = words(80, 12);
    const second = minHashDedup([text(replaced(old[1] as string[], [0])), text(fresh), text(fresh)], {
      seed: 7,
      index,
    });
    expect(Array.from(second.duplicateOf)).toEqual([-2, -1, 1]);
    expect(second.indexedDuplicateOf).toEqual(['old-1', '', '']);
    expect(second.jaccard[0]).toBeGreaterThan(0);
    expect(minHashIndexOf(second, ['n0', 'n1', 'n2']).ids).toEqual(['n1']);
  });

  it('holds an indexed match to the threshold: pairs below it survive, near-copies do not', () => {
    // Word sets of 100 words; a partner shares `shared` of them: Jaccard shared / (200 - shared).
    const doc = (pair: number, shared: number, second: boolean) =>
      Array.from({ length: 100 }, (_, k) => (second && k >= shared ? `p${pair}x${k}` : `p${pair}w${k}`)).join(' ');
    const pairs = 300;
    const options = { threshold: 0.8, ngramSize: 1, seed: 5 };
    for (const [shared, jaccard] of [
      [82, 82 / 118],
      [95, 95 / 105],
    ] as const) {
      const earlier = Array.from({ length: pairs }, (_, i) => doc(i, shared, false));
      const later = Array.from({ length: pairs }, (_, i) => doc(i, shared, true));
      const index = minHashIndexOf(
        minHashDedup(earlier, options),
        earlier.map((_, i) => `e${i}`),
      );
      const against = minHashDedup(later, { ...options, index });
      const dropped = against.kept.length - against.kept.reduce((a, b) => a + b, 0);
      // The same pairs inside one dataset are verified by exact Jaccard.
      const together = minHashDedup([...earlier, ...later], options);
      const droppedTogether = together.kept.length - together.kept.reduce((a, b) => a + b, 0);
      if (jaccard < 0.8) {
        expect(droppedTogether).toBe(0);
        // The sketch estimate has a spread of about 0.04 at J = 0.7: a rare pair may still pass (it was
        // 18 of 300 when any shared band dropped a document).
        expect(dropped).toBeLessThanOrEqual(3);
      } else {
        // 14 bands of 9 rows find a J = 0.905 pair with probability 1 - (1 - 0.905^9)^14 = 0.9995.
        expect(droppedTogether).toBeGreaterThanOrEqual(pairs * 0.9);
        expect(dropped).toBeGreaterThanOrEqual(pairs * 0.9);
        for (let i = 0; i < pairs; i++) {
          if (against.kept[i]) continue;
          expect(against.indexedDuplicateOf[i]).toBe(`e${i}`);
          expect(Math.abs((against.jaccard[i] as number) - jaccard)).toBeLessThan(0.15);
        }
      }
    }
  });

  it('rejects an index built with other parameters, naming the one that differs', () => {
    const index = minHashIndexOf(minHashDedup(['a b c d e f'], { seed: 1 }), ['x']);
    expect(() => minHashDedup(['a'], { seed: 2, index })).toThrow(/index was built with seed 1, the step uses 2/);
    expect(() => minHashDedup(['a'], { seed: 1, bands: 8, index })).toThrow(/bands/);
  });

  it('takes a loaded index’s bands when the step leaves them open', () => {
    // Saved under the earlier default, 9 × 13 (unverified candidates still choose it); a step with
    // defaults would now pick 14 × 9.
    const old = words(80, 20);
    const index = minHashIndexOf(minHashDedup([text(old)], { seed: 3, verifyCandidates: false }), ['old']);
    expect([index.params.bands, index.params.rows]).toEqual([9, 13]);
    const r = minHashDedup([text(replaced(old, [0]))], { seed: 3, index });
    expect([r.bands, r.rows]).toEqual([9, 13]);
    expect(r.indexedDuplicateOf).toEqual(['old']);
  });

  it('validates its parameters and handles an empty dataset', () => {
    expect(() => minHashDedup(['a'], { threshold: 1.2 })).toThrow(/^threshold/);
    expect(() => minHashDedup(['a'], { keep: 'smallest-id' })).toThrow(/^ids/);
    expect(() => minHashDedup(['a'], { numPermutations: 0 })).toThrow(/^numPermutations/);
    expect(minHashDedup([]).kept).toHaveLength(0);
  });
});

describe('minHashDedup verification of long documents', () => {
  it('verifies a near-copy of a document longer than the shingle buffers it starts with', () => {
    // Regression: re-shingling a long earlier document grew the verifier's buffer after its old one had
    // been picked, so the exact Jaccard came out low and a 0.999 pair was rejected.
    const words = Array.from({ length: 4000 }, (_, i) => `token${(i * 7919) % 3001}`);
    const original = words.join(' ');
    const copy = `vendored ${words.slice(0, 2000).join(' ')} ${words.slice(2001).join(' ')}`;
    const r = minHashDedup(['short unrelated text about nothing at all', original, copy], { threshold: 0.8 });
    expect(Array.from(r.kept)).toEqual([1, 1, 0]);
    expect(r.duplicateOf[2]).toBe(1);
    expect(r.jaccard[2]).toBeGreaterThan(0.99);
  });
});
