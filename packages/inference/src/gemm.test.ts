import { describe, expect, it } from 'vitest';
import { createOrtGemmTransposed } from './gemm.js';

describe('ONNX A·Bᵀ kernel', () => {
  it('computes every dot product of the rows of A with the rows of B, from views into larger buffers', async () => {
    const gemm = await createOrtGemmTransposed();
    // A: 2 × 3, B: 3 × 3, both followed by unrelated values the kernel must not read.
    const a = new Float32Array([1, 2, 3, 0, 1, 0, 99, 99]);
    const b = new Float32Array([1, 0, 0, 0, 1, 0, 1, 1, 1, 99]);
    const out = new Float32Array(6);
    await gemm(a, 2, b, 3, 3, out);
    expect(Array.from(out)).toEqual([1, 2, 6, 0, 1, 1]);
    // A tile at an offset, as SemDeDup passes row blocks.
    await gemm(a.subarray(3), 1, b.subarray(3), 2, 3, out);
    expect(Array.from(out.subarray(0, 2))).toEqual([1, 1]);
  });
});
