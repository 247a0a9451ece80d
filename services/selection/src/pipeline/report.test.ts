import { describe, expect, it } from 'vitest';
import { clusterSizeHistogram } from './report.js';

describe('clusterSizeHistogram', () => {
  it('counts every cluster, empty ones in their own bin, sizes in power-of-two bins', () => {
    // k = 5: sizes 0, 1, 2, 3 and 0 (records outside the clustering, -1, are not counted).
    const labels = Int32Array.of(1, 2, 2, 3, 3, 3, -1);
    expect(clusterSizeHistogram(labels, 5)).toEqual({ upperBounds: [0, 1, 2, 4], counts: [2, 1, 1, 1] });
  });
});
