import { describe, expect, it } from 'vitest';
import { createOrtAssignKernel } from './kmeans-assign.js';

describe('ONNX k-means assignment kernel', () => {
  it('finds the most similar centroid and its cosine, across chunk boundaries', async () => {
    const assign = await createOrtAssignKernel({ chunkRows: 2 });
    // 3 unit rows in 2-d; centroids along x and y.
    const x = new Float32Array([1, 0, 0.6, 0.8, 0, -1]);
    const c = new Float32Array([1, 0, 0, 1]);
    const r = await assign(x, 3, 2, c, 2);
    expect(Array.from(r.labels)).toEqual([0, 1, 0]);
    expect(r.similarity[0]).toBeCloseTo(1, 6);
    expect(r.similarity[1]).toBeCloseTo(0.8, 6);
    expect(r.similarity[2]).toBeCloseTo(0, 6);
  });
});
