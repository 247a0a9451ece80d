import { describe, expect, it } from 'vitest';
import type { ClusteredEmbeddings } from './clustered-embeddings.js';
import { clusterComplexity, densityPruning } from './density-pruning.js';

const rad = (deg: number) => (deg * Math.PI) / 180;
const at = (...degs: number[]) => new Float32Array(degs.flatMap((a) => [Math.cos(rad(a)), Math.sin(rad(a))]));
/** The angle (degrees) of a point at cosine distance `dist` from a centroid at `centroidDeg`, on side `side`. */
const point = (centroidDeg: number, dist: number, side = 1) =>
  centroidDeg + (side * Math.acos(1 - dist) * 180) / Math.PI;

// Three clusters in 2-d, centroids at 0°, 60° and 180° (pairwise cosine distances 0.5, 2 and 1.5).
// Rows, by cluster and cosine distance to its centroid (rows 2 and 5 are the same point):
//   c0: row 0 (0), 3 (0.1), 4 (0.1), 7 (0.2), 8 (0.2), 11 (0.6)   d_intra = 1.2 / 6 = 0.2
//   c1: row 1 (0.2), 6 (0.3), 10 (0.4)                              d_intra = 0.9 / 3 = 0.3
//   c2: row 2 (0.05), 5 (0.05), 9 (0.2)                             d_intra = 0.3 / 3 = 0.1
const rows: [number, number, number][] = [
  [0, 0, 1],
  [1, 0.2, 1],
  [2, 0.05, 1],
  [0, 0.1, 1],
  [0, 0.1, -1],
  [2, 0.05, 1],
  [1, 0.3, -1],
  [0, 0.2, 1],
  [0, 0.2, -1],
  [2, 0.2, -1],
  [1, 0.4, 1],
  [0, 0.6, 1],
];
const centroidDeg = [0, 60, 180];
const three: ClusteredEmbeddings = {
  embeddings: at(...rows.map(([c, dist, side]) => point(centroidDeg[c] as number, dist, side))),
  dims: 2,
  labels: Int32Array.from(rows, ([c]) => c),
  centroids: at(...centroidDeg),
};
const softmax = (logits: number[]) => {
  const e = logits.map(Math.exp);
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};
const closeTo = (values: number[], digits = 5) => values.map((v) => expect.closeTo(v, digits));

describe('clusterComplexity', () => {
  it('multiplies the mean in-cluster distance by the mean distance to the nearest other centroids', () => {
    // nearest defaults to 20, capped at k − 1 = 2: d_inter = [(0.5 + 2) / 2, (0.5 + 1.5) / 2, (2 + 1.5) / 2].
    const c = clusterComplexity(three);
    expect(c.nearestCentroids).toBe(2);
    expect(Array.from(c.sizes)).toEqual([6, 3, 3]);
    expect(Array.from(c.intraDistance)).toEqual(closeTo([0.2, 0.3, 0.1]));
    expect(Array.from(c.interDistance)).toEqual(closeTo([1.25, 1, 1.75]));
    expect(Array.from(c.complexity)).toEqual(closeTo([0.25, 0.3, 0.175]));
  });

  it('averages only the nearest centroids', () => {
    expect(Array.from(clusterComplexity(three, { nearestCentroids: 1 }).interDistance)).toEqual(
      closeTo([0.5, 0.5, 1.5]),
    );
  });
});

describe('densityPruning', () => {
  it('solves the quota problem exactly with an upper and a lower bound active', () => {
    // τ = 0.05 makes P = softmax([5, 6, 3.5]) ≈ [0.254, 0.690, 0.057] and P·8 ≈ [2.03, 5.52, 0.45].
    // Bounds: m = ⌊8 / 3 · 0.75⌋ = 2, lo = [2, 2, 2], hi = [6, 3, 3]. Cluster 1 is capped at 3, cluster 2
    // lifted to 2, so cluster 0 takes 8 − 3 − 2 = 3 and the shift is λ = 3 − 8·P_0.
    const r = densityPruning(three, { keepCount: 8, temperature: 0.05, minQuotaFactor: 0.75 });
    const p = softmax([0.25 / 0.05, 0.3 / 0.05, 0.175 / 0.05]);
    expect(Array.from(r.probability)).toEqual(closeTo(p));
    expect(r.minQuota).toBe(2);
    expect(r.shift).toBeCloseTo(3 - 8 * (p[0] as number), 5);
    expect(Array.from(r.exactQuotas)).toEqual(closeTo([3, 3, 2], 9));
    expect(Array.from(r.quotas)).toEqual([3, 3, 2]);
    // Each cluster keeps its farthest rows: c0 rows 11, 7, 8; all of c1; c2 row 9 and, of the identical
    // rows 2 and 5, the lower index.
    expect(Array.from(r.kept)).toEqual([0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  });

  it('follows P·N when no bound is active (τ = 0.5 by default)', () => {
    const r = densityPruning(three, { keepFraction: 8 / 12 });
    const p = softmax([0.25 / 0.5, 0.3 / 0.5, 0.175 / 0.5]);
    expect(r.budget).toBe(8);
    expect(r.shift).toBeCloseTo(0, 9);
    expect(Array.from(r.exactQuotas)).toEqual(closeTo(p.map((v) => v * 8)));
    // ≈ [2.70, 2.98, 2.32]: floors [2, 2, 2], the two missing units go to the largest remainders.
    expect(Array.from(r.quotas)).toEqual([3, 3, 2]);
  });

  it('derives the floor m from the budget, so the default factor never makes a budget infeasible', () => {
    // m = ⌊2 / 3 · 0.5⌋ = 0: a third of a row per cluster is no floor; keeping 2 of 12 works.
    const small = densityPruning(three, { keepCount: 2 });
    expect(small.minQuota).toBe(0);
    expect(small.quotas.reduce((a, b) => a + b, 0)).toBe(2);
    // m = ⌊6 / 3 · 0.5⌋ = 1 keeps a row of every cluster even at τ = 0.05, where P·6 ≈ [1.5, 4.1, 0.3].
    expect(Array.from(densityPruning(three, { keepCount: 6, temperature: 0.05 }).quotas)).toEqual([2, 3, 1]);
  });

  it('rejects floors (a factor above 1) that need more rows than the budget, saying how many', () => {
    // m = ⌊5 / 3 · 2⌋ = 3, lo = [3, 2, 2].
    expect(() => densityPruning(three, { keepCount: 5, minQuotaFactor: 2 })).toThrow(
      /^budget of 5 rows is infeasible: the per-cluster floors min\(m, \|C_j\| − 1\) with m = 3 already keep 7 of 12/,
    );
  });

  it('gives an empty cluster no probability and no quota', () => {
    const r = densityPruning({ ...three, centroids: at(0, 60, 180, 270) }, { keepCount: 8 });
    expect(r.probability[3]).toBe(0);
    expect(r.complexity[3]).toBeNaN();
    expect(r.quotas[3]).toBe(0);
    expect(r.quotas.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('falls back to a uniform softmax when no complexity is defined (k = 1)', () => {
    const r = densityPruning(
      { ...three, labels: new Int32Array(12), centroids: at(0) },
      { keepCount: 7, minQuotaFactor: 0.25 },
    );
    expect(Array.from(r.complexity)).toEqual([0]);
    expect(Array.from(r.quotas)).toEqual([7]);
  });

  it('validates temperature and minQuotaFactor', () => {
    expect(() => densityPruning(three, { keepCount: 8, temperature: 0 })).toThrow(/^temperature/);
    expect(() => densityPruning(three, { keepCount: 8, minQuotaFactor: -1 })).toThrow(/^minQuotaFactor/);
    expect(() => densityPruning(three, { keepCount: 8, nearestCentroids: 0 })).toThrow(/^nearestCentroids/);
  });
});
