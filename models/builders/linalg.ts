/**
 * The few dense/sparse linear-algebra routines the default-model recipes need, on Float64Array, with seeded
 * randomness so a rebuild gives the same model: a PRNG, power iteration, Gram-Schmidt, Jacobi eigenvalues
 * and a randomized truncated SVD for a sparse matrix.
 */

import { seededRandom } from '@sift/numeric';

/** Standard normal samples (Box-Muller) from a seeded uniform stream. */
export function seededGaussian(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/** Flips the sign of a vector so that its largest-magnitude entry is positive (a fixed sign for eigenvectors). */
export function fixSign(v: Float64Array): void {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[best]!)) best = i;
  if (v[best]! < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i]!;
}

/**
 * Leading eigenpair of a symmetric positive semi-definite n x n matrix (row-major) by power iteration from
 * a seeded random start; stops when the vector moves less than `tolerance` (L2) or after `maxIterations`.
 */
export function powerIteration(
  matrix: Float64Array,
  n: number,
  seed: number,
  maxIterations = 1000,
  tolerance = 1e-12,
): { vector: Float64Array; eigenvalue: number; iterations: number } {
  const gaussian = seededGaussian(seed);
  let v = Float64Array.from({ length: n }, gaussian);
  normalize(v);
  let next = new Float64Array(n);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += matrix[i * n + j]! * v[j]!;
      next[i] = s;
    }
    normalize(next);
    let moved = 0;
    for (let i = 0; i < n; i++) moved += (next[i]! - v[i]!) ** 2;
    [v, next] = [next, v];
    if (Math.sqrt(moved) < tolerance) break;
  }
  fixSign(v);
  let eigenvalue = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += matrix[i * n + j]! * v[j]!;
    eigenvalue += v[i]! * s;
  }
  return { vector: v, eigenvalue, iterations };
}

function normalize(v: Float64Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
}

/**
 * Orthonormalises the columns of a row-major rows x cols matrix in place (modified Gram-Schmidt, run twice
 * for numerical orthogonality). A column that vanishes becomes zero.
 */
export function orthonormalizeColumns(a: Float64Array, rows: number, cols: number): void {
  // Work on a column-major copy so every dot product and update runs over contiguous memory.
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) t[j * rows + r] = a[r * cols + j]!;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < cols; j++) {
      const cj = t.subarray(j * rows, (j + 1) * rows);
      for (let k = 0; k < j; k++) {
        const ck = t.subarray(k * rows, (k + 1) * rows);
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += ck[r]! * cj[r]!;
        for (let r = 0; r < rows; r++) cj[r] = cj[r]! - dot * ck[r]!;
      }
      normalize(cj);
    }
  }
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) a[r * cols + j] = t[j * rows + r]!;
}

/**
 * Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations. Returns eigenvalues in
 * descending order and the matching eigenvectors as the columns of a row-major n x n matrix.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = a[i * n + j]! ** 2;
        total += x;
        if (i !== j) off += x;
      }
    }
    if (off <= 1e-30 * total) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    for (let k = 0; k < n; k++) vectors[k * n + to] = v[k * n + from]!;
  });
  return { values, vectors };
}

/** A sparse matrix in compressed sparse row form. */
export interface CsrMatrix {
  readonly rows: number;
  readonly cols: number;
  /** Row r's entries are at [rowStart[r], rowStart[r + 1]). */
  readonly rowStart: Int32Array;
  readonly colIndex: Int32Array;
  readonly values: Float64Array;
}

/**
 * The sparse products below take the dense operand 8 columns at a time, with the 8 running sums in local
 * variables: a cols x 8 block stays in cache while all non-zeros stream past, and the sums stay in
 * registers. That is about 3x faster than looping over whole dense rows.
 */
const BLOCK = 8;

/** out (rows x k) = X (rows x cols) * B (cols x k), all dense row-major except X. */
function sparseTimesDense(x: CsrMatrix, b: Float64Array, k: number): Float64Array {
  const out = new Float64Array(x.rows * k);
  const block = new Float64Array(x.cols * BLOCK);
  const { rowStart, colIndex, values } = x;
  for (let c0 = 0; c0 < k; c0 += BLOCK) {
    const w = Math.min(BLOCK, k - c0);
    block.fill(0);
    for (let c = 0; c < x.cols; c++) for (let j = 0; j < w; j++) block[c * BLOCK + j] = b[c * k + c0 + j]!;
    for (let r = 0; r < x.rows; r++) {
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        s4 = 0,
        s5 = 0,
        s6 = 0,
        s7 = 0;
      const end = rowStart[r + 1]!;
      for (let e = rowStart[r]!; e < end; e++) {
        const v = values[e]!;
        const o = colIndex[e]! * BLOCK;
        s0 += v * block[o]!;
        s1 += v * block[o + 1]!;
        s2 += v * block[o + 2]!;
        s3 += v * block[o + 3]!;
        s4 += v * block[o + 4]!;
        s5 += v * block[o + 5]!;
        s6 += v * block[o + 6]!;
        s7 += v * block[o + 7]!;
      }
      const sums = [s0, s1, s2, s3, s4, s5, s6, s7];
      for (let j = 0; j < w; j++) out[r * k + c0 + j] = sums[j]!;
    }
  }
  return out;
}

/** out (cols x k) = Xᵀ * Q (rows x k), 8 columns of Q at a time like {@link sparseTimesDense}. */
function sparseTransposeTimesDense(x: CsrMatrix, q: Float64Array, k: number): Float64Array {
  const out = new Float64Array(x.cols * k);
  const block = new Float64Array(x.cols * BLOCK);
  const row = new Float64Array(BLOCK);
  const { rowStart, colIndex, values } = x;
  for (let c0 = 0; c0 < k; c0 += BLOCK) {
    const w = Math.min(BLOCK, k - c0);
    block.fill(0);
    for (let r = 0; r < x.rows; r++) {
      row.fill(0);
      for (let j = 0; j < w; j++) row[j] = q[r * k + c0 + j]!;
      const [q0, q1, q2, q3, q4, q5, q6, q7] = row as unknown as number[];
      const end = rowStart[r + 1]!;
      for (let e = rowStart[r]!; e < end; e++) {
        const v = values[e]!;
        const o = colIndex[e]! * BLOCK;
        block[o] = block[o]! + v * q0!;
        block[o + 1] = block[o + 1]! + v * q1!;
        block[o + 2] = block[o + 2]! + v * q2!;
        block[o + 3] = block[o + 3]! + v * q3!;
        block[o + 4] = block[o + 4]! + v * q4!;
        block[o + 5] = block[o + 5]! + v * q5!;
        block[o + 6] = block[o + 6]! + v * q6!;
        block[o + 7] = block[o + 7]! + v * q7!;
      }
    }
    for (let c = 0; c < x.cols; c++) for (let j = 0; j < w; j++) out[c * k + c0 + j] = block[c * BLOCK + j]!;
  }
  return out;
}

/**
 * Truncated SVD X ≈ U Σ Vᵀ of a sparse matrix by randomized subspace iteration (Halko, Martinsson and
 * Tropp 2011, "Finding structure with randomness", Algorithms 4.3/4.4 and 5.1): a Gaussian test matrix
 * with `rank + oversample` columns, `powerIterations` rounds of X Xᵀ products, then
 * an exact SVD of the small projected matrix B = QᵀX through the eigen-decomposition of B Bᵀ.
 *
 * Returns the leading `rank` right singular vectors as the columns of V (cols x rank, row-major), ordered by
 * descending singular value, each with its largest-magnitude entry positive.
 */
export function randomizedSvd(
  x: CsrMatrix,
  rank: number,
  options: { oversample?: number; powerIterations?: number; seed?: number } = {},
): { singularValues: Float64Array; v: Float64Array } {
  const { oversample = 16, powerIterations = 3, seed = 1 } = options;
  const k = Math.min(rank + oversample, x.rows, x.cols);
  if (rank > k) throw new RangeError(`rank ${rank} exceeds the matrix size ${x.rows} x ${x.cols}`);
  const gaussian = seededGaussian(seed);
  const omega = Float64Array.from({ length: x.cols * k }, gaussian);
  let q = sparseTimesDense(x, omega, k);
  orthonormalizeColumns(q, x.rows, k);
  // Power iterations re-orthonormalise only the row-space side (rows < cols here): with a few iterations
  // in float64 the spectrum ratio raised to 2q + 1 stays far from round-off (Halko et al. Alg. 4.3 vs 4.4).
  for (let i = 0; i < powerIterations; i++) {
    q = sparseTimesDense(x, sparseTransposeTimesDense(x, q, k), k);
    orthonormalizeColumns(q, x.rows, k);
  }
  // Bᵀ = Xᵀ Q is cols x k; B Bᵀ = (Bᵀ)ᵀ Bᵀ is k x k.
  const bt = sparseTransposeTimesDense(x, q, k);
  const gram = new Float64Array(k * k);
  for (let c = 0; c < x.cols; c++) {
    const o = c * k;
    for (let i = 0; i < k; i++) {
      const bi = bt[o + i]!;
      if (bi === 0) continue;
      for (let j = i; j < k; j++) gram[i * k + j] = gram[i * k + j]! + bi * bt[o + j]!;
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) gram[i * k + j] = gram[j * k + i]!;
  const { values, vectors } = symmetricEigen(gram, k);
  // Right singular vectors: V = Bᵀ U_B Σ⁻¹ (row by row, so every inner loop is contiguous).
  const singularValues = Float64Array.from({ length: rank }, (_, j) => Math.sqrt(Math.max(values[j]!, 0)));
  const v = new Float64Array(x.cols * rank);
  for (let c = 0; c < x.cols; c++) {
    const o = c * rank;
    for (let i = 0; i < k; i++) {
      const b = bt[c * k + i]!;
      if (b === 0) continue;
      const ui = i * k;
      for (let j = 0; j < rank; j++) v[o + j] = v[o + j]! + b * vectors[ui + j]!;
    }
    for (let j = 0; j < rank; j++) v[o + j] = singularValues[j]! > 0 ? v[o + j]! / singularValues[j]! : 0;
  }
  const column = new Float64Array(x.cols);
  for (let j = 0; j < rank; j++) {
    for (let c = 0; c < x.cols; c++) column[c] = v[c * rank + j]!;
    fixSign(column);
    for (let c = 0; c < x.cols; c++) v[c * rank + j] = column[c]!;
  }
  return { singularValues, v };
}
