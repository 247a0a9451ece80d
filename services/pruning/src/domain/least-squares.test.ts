import { describe, expect, it } from 'vitest';
import { BlockBridgeFit, RidgeAccumulator } from './least-squares.js';

/** Deterministic pseudo-random values in [−1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Row-major product of a (rows × d) and b (d × k). */
function matmul(a: Float32Array, b: Float32Array | Float64Array, rows: number, d: number, k: number): Float32Array {
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += a[r * d + i]! * b[i * k + j]!;
      out[r * k + j] = s;
    }
  return out;
}

describe('RidgeAccumulator', () => {
  it('recovers T exactly from Y = M T without ridge, whatever the batching', () => {
    const d = 5;
    const k = 3;
    const rows = 600; // more than one 256-row tile
    const t = values(d * k, 7);
    const m = values(rows * d, 11);
    const y = matmul(m, t, rows, d, k);
    const acc = new RidgeAccumulator(d, k);
    acc.add(m.subarray(0, 100 * d), y.subarray(0, 100 * k));
    acc.add(m.subarray(100 * d), y.subarray(100 * k));
    expect(acc.rows).toBe(rows);
    const solved = acc.solve({ alpha: 0 });
    for (let i = 0; i < d * k; i++) expect(solved[i]).toBeCloseTo(t[i]!, 4);
  });

  it('solves a 2 × 1 system by hand: M = [[1, 0], [0, 2]], Y = [[3], [4]] gives T = [3, 2]', () => {
    const acc = new RidgeAccumulator(2, 1);
    acc.add(Float32Array.from([1, 0, 0, 2]), Float32Array.from([3, 4]));
    expect(Array.from(acc.solve({ alpha: 0 }))).toEqual([3, 2]);
    // Absolute ridge α = 1: T_i = (MᵀY)_i / (MᵀM_ii + 1) = [3 / 2, 8 / 5].
    expect(Array.from(acc.solve({ alpha: 1, scale: 'absolute' }))).toEqual([1.5, 1.600000023841858]);
    // Relative ridge: α × mean diagonal = 0.4 × (1 + 4) / 2 = 1, the same system.
    expect(Array.from(acc.solve({ alpha: 0.4 }))).toEqual([1.5, 1.600000023841858]);
  });

  it('names the problem when MᵀM is singular without ridge, and solves it with ridge', () => {
    const rows = 20;
    const m = new Float32Array(rows * 2);
    const base = values(rows, 3);
    for (let r = 0; r < rows; r++) {
      m[r * 2] = base[r]!;
      m[r * 2 + 1] = 2 * base[r]!; // second column = 2 × first: rank 1
    }
    const acc = new RidgeAccumulator(2, 1);
    acc.add(m, base);
    expect(() => acc.solve({ alpha: 0 })).toThrowError(
      expect.objectContaining({
        kind: 'invalid_argument',
        message: expect.stringMatching(/not positive definite.*ridge alpha > 0/),
      }),
    );
    // Minimum-norm-like ridge answer: y = x = 0.2 x + 0.4 (2x), shrunk slightly.
    const t = acc.solve({ alpha: 1e-6 });
    expect(t[0]).toBeCloseTo(0.2, 4);
    expect(t[1]).toBeCloseTo(0.4, 4);
  });

  it('rejects empty fits, negative alpha and short buffers', () => {
    const acc = new RidgeAccumulator(2, 2);
    expect(() => acc.solve({ alpha: 0 })).toThrow(/no rows/);
    expect(() => acc.add(new Float32Array(4), new Float32Array(2), 2)).toThrow(/targets hold 2/);
    acc.add(Float32Array.from([1, 0, 0, 1]), Float32Array.from([1, 0, 0, 1]));
    expect(() => acc.solve({ alpha: -1 })).toThrow(/alpha/);
  });
});

describe('BlockBridgeFit', () => {
  it('fits x^l T ≈ x^(l+n) through the residual difference, so T = I + D', () => {
    const d = 4;
    const rows = 300;
    const t = values(d * d, 5);
    const x = values(rows * d, 9);
    const y = matmul(x, t, rows, d, d);
    const fit = new BlockBridgeFit(d);
    fit.add(x, y);
    const solved = fit.solve({ alpha: 0 });
    for (let i = 0; i < d * d; i++) expect(solved[i]).toBeCloseTo(t[i]!, 4);
  });

  it('shrinks towards the identity (plain pruning), not towards zero, under strong ridge', () => {
    const d = 3;
    const x = values(50 * d, 1);
    const y = values(50 * d, 2);
    const fit = new BlockBridgeFit(d);
    fit.add(x, y);
    const t = fit.solve({ alpha: 1e9 });
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) expect(t[i * d + j]).toBeCloseTo(i === j ? 1 : 0, 6);
  });
});
