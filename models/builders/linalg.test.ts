import { describe, expect, it } from 'vitest';
import { type CsrMatrix, orthonormalizeColumns, powerIteration, randomizedSvd, symmetricEigen } from './linalg.js';

describe('symmetricEigen', () => {
  it('diagonalises [[2, 1], [1, 2]] into eigenvalues 3 and 1', () => {
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    // First eigenvector is ±(1, 1)/√2.
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0]! * vectors[2]!).toBeCloseTo(0.5, 12);
  });
});

describe('powerIteration', () => {
  it('finds the dominant axis of a diagonal matrix with a positive sign', () => {
    const { vector, eigenvalue } = powerIteration(Float64Array.of(1, 0, 0, 0, 5, 0, 0, 0, 2), 3, 7);
    expect(eigenvalue).toBeCloseTo(5, 10);
    expect(vector[1]).toBeCloseTo(1, 10);
  });
});

describe('orthonormalizeColumns', () => {
  it('turns columns (1, 1) and (1, 0) into an orthonormal pair', () => {
    const a = Float64Array.of(1, 1, 1, 0);
    orthonormalizeColumns(a, 2, 2);
    expect(a[0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(a[2]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(a[0]! * a[1]! + a[2]! * a[3]!).toBeCloseTo(0, 12);
    expect(a[1]! ** 2 + a[3]! ** 2).toBeCloseTo(1, 12);
  });
});

describe('randomizedSvd', () => {
  it('recovers the singular values and right vectors of a scaled permutation matrix', () => {
    // X = rows (0, 3, 0, 0), (4, 0, 0, 0), (0, 0, 0, 1): singular values 4, 3, 1 on axes 0, 1, 3.
    const x: CsrMatrix = {
      rows: 3,
      cols: 4,
      rowStart: Int32Array.of(0, 1, 2, 3),
      colIndex: Int32Array.of(1, 0, 3),
      values: Float64Array.of(3, 4, 1),
    };
    const { singularValues, v } = randomizedSvd(x, 2, { oversample: 1, powerIterations: 1, seed: 3 });
    expect(singularValues[0]).toBeCloseTo(4, 10);
    expect(singularValues[1]).toBeCloseTo(3, 10);
    // V is 4 x 2 row-major: first column e0, second column e1.
    expect(Array.from(v, (e) => Math.round(e * 1e9) / 1e9 + 0)).toEqual([1, 0, 0, 1, 0, 0, 0, 0]);
  });
});
