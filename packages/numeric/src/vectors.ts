/** Row-major matrices as flat Float32Arrays: row i of an [n, d] matrix is data[i*d .. i*d+d). */

/** Scales every row to unit L2 norm in place; zero rows stay zero. Returns the input. */
export function normalizeRows(x: Float32Array, d: number): Float32Array {
  const n = x.length / d;
  for (let i = 0; i < n; i++) {
    let ss = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) ss += (x[o + j] as number) ** 2;
    if (ss === 0) continue;
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < d; j++) x[o + j] = (x[o + j] as number) * inv;
  }
  return x;
}

/** Dot product of row `i` of `a` with row `j` of `b` (both with `d` columns). */
export function rowDot(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  const oa = i * d;
  const ob = j * d;
  for (let k = 0; k < d; k++) s += (a[oa + k] as number) * (b[ob + k] as number);
  return s;
}

/**
 * C = A Bᵀ for A [n, d] and B [m, d], written into `out` [n, m]. Blocked over B's rows so a block of B
 * stays in cache while A streams past it.
 */
export function matmulTransposed(
  a: Float32Array,
  n: number,
  b: Float32Array,
  m: number,
  d: number,
  out = new Float32Array(n * m),
): Float32Array {
  const block = 64;
  for (let j0 = 0; j0 < m; j0 += block) {
    const j1 = Math.min(m, j0 + block);
    for (let i = 0; i < n; i++) {
      const oa = i * d;
      for (let j = j0; j < j1; j++) {
        const ob = j * d;
        let s = 0;
        for (let k = 0; k < d; k++) s += (a[oa + k] as number) * (b[ob + k] as number);
        out[i * m + j] = s;
      }
    }
  }
  return out;
}
