import { describe, expect, it } from 'vitest';
import { meanRanks, spearman } from './stats.js';

describe('meanRanks', () => {
  it('gives tied values the mean of the ranks they span', () => {
    expect(Array.from(meanRanks([30, 10, 20, 20]))).toEqual([4, 1, 2.5, 2.5]);
    expect(Array.from(meanRanks([5, 5, 5]))).toEqual([2, 2, 2]);
  });
});

describe('spearman', () => {
  it('is the Pearson correlation of the ranks when both samples have ties', () => {
    // Ranks of x: 1, 2.5, 2.5, 4; of y: 1.5, 1.5, 3, 4. Deviations from the mean 2.5: x (-1.5, 0, 0, 1.5),
    // y (-1, -1, 0.5, 1.5); Σdxdy = 1.5 + 2.25 = 3.75, Σdx² = 4.5, Σdy² = 4.5, so ρ = 3.75 / 4.5 = 5/6.
    expect(spearman([1, 2, 2, 3], [7, 7, 8, 9])).toBeCloseTo(5 / 6, 12);
  });

  it('is 1 for any increasing relation and -1 for any decreasing one', () => {
    const x = [0.1, 0.5, 2, 3, 10];
    expect(spearman(x, [1, 4, 9, 16, 1000])).toBe(1);
    expect(spearman(x, [5, 4, 3, -1, -100])).toBe(-1);
  });

  it('is NaN for a constant sample and refuses samples of different lengths', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => spearman([1, 2], [1, 2, 3])).toThrow(RangeError);
  });
});
