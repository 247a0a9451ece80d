import { describe, expect, it } from 'vitest';
import { clsPool, cosine, finishRows, meanPool } from './vectors.js';

describe('pooling', () => {
  // batch 2, tokens 3, dims 2
  const hidden = new Float32Array([1, 2, 3, 4, 100, 100, 5, 6, 7, 8, 9, 10]);
  it('mean-pools only unmasked tokens', () => {
    const mask = [1, 1, 0, 1, 1, 1];
    expect(Array.from(meanPool(hidden, mask, 2, 3, 2))).toEqual([2, 3, 7, 8]);
  });
  it('accepts bigint masks as ONNX int64 tensors carry them', () => {
    const mask = new BigInt64Array([1n, 0n, 0n, 0n, 0n, 1n]);
    expect(Array.from(meanPool(hidden, mask, 2, 3, 2))).toEqual([1, 2, 9, 10]);
  });
  it('takes the first token for CLS pooling', () => {
    expect(Array.from(clsPool(hidden, 2, 3, 2))).toEqual([1, 2, 5, 6]);
  });
});

describe('finishRows', () => {
  const rows = new Float32Array([3, 4, 12, 0, 0, 0]);
  it('keeps leading components (Matryoshka) before normalising', () => {
    const out = Array.from(finishRows(rows, 3, 2, true));
    expect(out).toHaveLength(4);
    [0.6, 0.8, 0, 0].forEach((v, i) => {
      expect(out[i]).toBeCloseTo(v, 6);
    });
  });
  it('leaves zero rows at zero and does not modify its input', () => {
    const out = finishRows(rows, 3, 3, true);
    expect(Array.from(out.subarray(3))).toEqual([0, 0, 0]);
    expect(rows[0]).toBe(3);
  });
});

describe('cosine', () => {
  it('is 1 for parallel, 0 for orthogonal and for zero vectors', () => {
    expect(cosine(new Float32Array([1, 2]), new Float32Array([2, 4]))).toBeCloseTo(1, 6);
    expect(cosine(new Float32Array([1, 0]), new Float32Array([0, 3]))).toBe(0);
    expect(cosine(new Float32Array([0, 0]), new Float32Array([1, 1]))).toBe(0);
  });
});
