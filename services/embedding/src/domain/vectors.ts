/**
 * Vector post-processing for embeddings. Rows are packed in one Float32Array ([rows, dims], row-major).
 */

/**
 * Mean of token vectors where `mask` is 1 (sentence-transformers' mean pooling).
 * hidden: [batch, tokens, dims]; mask: [batch, tokens]. Returns [batch, dims].
 */
export function meanPool(
  hidden: Float32Array,
  mask: ArrayLike<number | bigint>,
  batch: number,
  tokens: number,
  dims: number,
): Float32Array {
  const out = new Float32Array(batch * dims);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    const o = b * dims;
    for (let t = 0; t < tokens; t++) {
      if (Number(mask[b * tokens + t]) === 0) continue;
      count++;
      const h = (b * tokens + t) * dims;
      for (let d = 0; d < dims; d++) out[o + d] = (out[o + d] as number) + (hidden[h + d] as number);
    }
    const inv = 1 / Math.max(count, 1);
    for (let d = 0; d < dims; d++) out[o + d] = (out[o + d] as number) * inv;
  }
  return out;
}

/** The first token's vector of each sequence (BERT's [CLS] pooling). Returns [batch, dims]. */
export function clsPool(hidden: Float32Array, batch: number, tokens: number, dims: number): Float32Array {
  const out = new Float32Array(batch * dims);
  for (let b = 0; b < batch; b++) out.set(hidden.subarray(b * tokens * dims, b * tokens * dims + dims), b * dims);
  return out;
}

/**
 * Keeps the first `keep` components of each row (Matryoshka truncation) and, when `normalize` is set,
 * scales each kept row to unit L2 norm (zero rows stay zero).
 */
export function finishRows(rows: Float32Array, dims: number, keep: number, normalize: boolean): Float32Array {
  const n = rows.length / dims;
  const out = keep === dims ? rows.slice() : new Float32Array(n * keep);
  if (keep !== dims) for (let r = 0; r < n; r++) out.set(rows.subarray(r * dims, r * dims + keep), r * keep);
  if (normalize) {
    for (let r = 0; r < n; r++) {
      let ss = 0;
      for (let d = 0; d < keep; d++) ss += (out[r * keep + d] as number) ** 2;
      if (ss === 0) continue;
      const inv = 1 / Math.sqrt(ss);
      for (let d = 0; d < keep; d++) out[r * keep + d] = (out[r * keep + d] as number) * inv;
    }
  }
  return out;
}

/** Cosine similarity of two equal-length vectors (0 when either is zero). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
