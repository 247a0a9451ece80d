import { seededRandom } from '@sift/numeric';
import { describe, expect, it } from 'vitest';
import { projectOntoBudget, roundToBudget } from './quota-projection.js';

describe('projectOntoBudget', () => {
  it('returns the target itself when it already sums to the budget inside the box', () => {
    const p = projectOntoBudget([5, 3, 2], [0, 0, 0], [10, 10, 10], 10);
    expect(Array.from(p.values)).toEqual([5, 3, 2]);
    expect(p.shift).toBe(0);
  });

  it('lifts a cluster to its lower bound and takes the difference equally from the free ones', () => {
    // t = [6, 3, 1], lo_2 = 2. Cluster 2 is pinned at 2; the free clusters share 10 − 2 = 8:
    // 6 + λ + 3 + λ = 8 → λ = −0.5 → x = [5.5, 2.5, 2] (and 1 − 0.5 < 2 confirms cluster 2 stays pinned).
    const p = projectOntoBudget([6, 3, 1], [0, 0, 2], [10, 10, 10], 10);
    expect(p.shift).toBeCloseTo(-0.5, 12);
    expect(Array.from(p.values)).toEqual([5.5, 2.5, 2].map((v) => expect.closeTo(v, 12)));
  });

  it('caps a cluster at its upper bound and gives the excess equally to the free ones', () => {
    // t = [8, 1, 1], hi_0 = 5: 5 + (1 + λ) + (1 + λ) = 10 → λ = 1.5 → x = [5, 2.5, 2.5].
    const p = projectOntoBudget([8, 1, 1], [0, 0, 0], [5, 10, 10], 10);
    expect(p.shift).toBeCloseTo(1.5, 12);
    expect(Array.from(p.values)).toEqual([5, 2.5, 2.5].map((v) => expect.closeTo(v, 12)));
  });

  it('meets the budget and the KKT form on random problems', () => {
    const random = seededRandom(5);
    for (let trial = 0; trial < 50; trial++) {
      const k = 1 + Math.floor(random() * 30);
      const hi = Array.from({ length: k }, () => Math.floor(random() * 100));
      const lo = hi.map((h) => Math.floor(random() * (h + 1)));
      const target = hi.map(() => random() * 120 - 10);
      const sumLo = lo.reduce((a, b) => a + b, 0);
      const sumHi = hi.reduce((a, b) => a + b, 0);
      const budget = sumLo + Math.floor(random() * (sumHi - sumLo + 1));
      const p = projectOntoBudget(target, lo, hi, budget);
      expect(p.values.reduce((a, b) => a + b, 0)).toBeCloseTo(budget, 8);
      p.values.forEach((v, j) => {
        expect(v).toBeCloseTo(Math.min(hi[j] as number, Math.max(lo[j] as number, (target[j] as number) + p.shift)), 9);
      });
      const q = roundToBudget(p.values, lo, hi, budget);
      expect(q.reduce((a, b) => a + b, 0)).toBe(budget);
      q.forEach((v, j) => {
        expect(v).toBeGreaterThanOrEqual(lo[j] as number);
        expect(v).toBeLessThanOrEqual(hi[j] as number);
        expect(Math.abs(v - (p.values[j] as number))).toBeLessThan(1);
      });
    }
  });

  it('rejects a budget outside [Σlo, Σhi], saying which totals are possible', () => {
    expect(() => projectOntoBudget([1, 1], [2, 2], [5, 5], 3)).toThrow(
      'budget 3 is infeasible: the per-cluster bounds allow totals between 4 and 10',
    );
    expect(() => projectOntoBudget([1, 1], [2, 2], [5, 5], 11)).toThrow(/^budget 11 is infeasible/);
  });
});

describe('roundToBudget', () => {
  it('gives the missing units to the largest remainders, ties to the lower index', () => {
    expect(Array.from(roundToBudget([5.5, 2.5, 2], [0, 0, 2], [10, 10, 10], 10))).toEqual([6, 2, 2]);
    expect(Array.from(roundToBudget([1.4, 1.3, 1.3], [0, 0, 0], [3, 3, 3], 4))).toEqual([2, 1, 1]);
    expect(Array.from(roundToBudget([1.2, 1.2, 1.6], [0, 0, 0], [3, 3, 3], 4))).toEqual([1, 1, 2]);
  });

  it('does not let float noise below an integer cost a unit', () => {
    expect(Array.from(roundToBudget([2.9999999999999, 1.0000000000001], [0, 0], [5, 5], 4))).toEqual([3, 1]);
  });
});
