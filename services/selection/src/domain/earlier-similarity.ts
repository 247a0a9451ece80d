import { matmulTransposed } from '@sift/numeric';

/**
 * out[i·m + j] = a_i · b_j for the n rows of `a` and m rows of `b` (d columns each): one tile of S = X Xᵀ.
 * The TypeScript kernel (`matmulTransposed`) is the default; a caller may pass a faster one (the selection
 * pipeline passes ONNX Runtime's GEMM), which may be asynchronous.
 */
export type TileProduct = (
  a: Float32Array,
  n: number,
  b: Float32Array,
  m: number,
  d: number,
  out: Float32Array<ArrayBuffer>,
) => unknown;

/**
 * Buffers of one blocked scan. Track t of a point at position p lives at index t·m + p, where m is the
 * cluster's size; callers size them for their largest cluster and reuse them across clusters.
 */
export interface EarlierSimilarityBuffers {
  /** Most similar earlier point's cosine per track and position; -Infinity for the first point. */
  maxSimilarity: Float32Array;
  /** Position (within the cluster) of that earlier point; -1 for the first point. */
  argMax: Int32Array;
  /** Kept-only tracks: 1 when the point survives that track's threshold. */
  kept: Uint8Array;
  /** Scratch tile of at least blockRows² floats. */
  tile: Float32Array<ArrayBuffer>;
}

/**
 * The inner loop of SemDeDup (Abbas et al. 2023, the per-cluster step of the algorithm): for rows already in keep order, M_p =
 * max over earlier positions q < p of cos(x_q, x_p), i.e. the column maxima of the strictly upper
 * triangle of S = X Xᵀ.
 *
 * S is never materialised: rows are taken `blockRows` at a time, and each row block is multiplied against
 * the earlier rows one `blockRows`-wide tile at a time, so memory is O(blockRows²) whatever the cluster
 * size. Tiles strictly left of the diagonal only raise running maxima; the diagonal tile is scanned row by
 * row in order, which is what lets the kept-only rule see the decisions of earlier rows of the same block.
 *
 * `keptOnlyThresholds`: null for the reference rule (every earlier point counts, one track, no decisions
 * here: M does not depend on eps). Otherwise one track per threshold 1 − eps, in which an earlier point
 * counts only if that track kept it, and a point is kept when its M ≤ threshold. The tile products are
 * shared by all tracks, so a sweep over E eps values costs one set of dot products plus E cheap passes of
 * comparisons over each tile.
 *
 * Ties keep the earliest maximum (strict >), so `argMax` is deterministic.
 */
export async function scanEarlierSimilarity(
  rows: Float32Array,
  m: number,
  dims: number,
  blockRows: number,
  keptOnlyThresholds: Float64Array | null,
  buffers: EarlierSimilarityBuffers,
  product: TileProduct = matmulTransposed,
): Promise<void> {
  const { maxSimilarity, argMax, kept, tile } = buffers;
  const tracks = keptOnlyThresholds ? keptOnlyThresholds.length : 1;
  for (let r0 = 0; r0 < m; r0 += blockRows) {
    const r1 = Math.min(m, r0 + blockRows);
    const nr = r1 - r0;
    for (let t = 0; t < tracks; t++) {
      maxSimilarity.fill(Number.NEGATIVE_INFINITY, t * m + r0, t * m + r1);
      argMax.fill(-1, t * m + r0, t * m + r1);
    }
    const rowBlock = rows.subarray(r0 * dims, r1 * dims);

    // Tiles left of the diagonal: every column is earlier than every row of the block, and (kept-only)
    // the columns' decisions are final because their row blocks were finished before this one.
    for (let c0 = 0; c0 < r0; c0 += blockRows) {
      const c1 = Math.min(r0, c0 + blockRows);
      const nc = c1 - c0;
      await product(rowBlock, nr, rows.subarray(c0 * dims, c1 * dims), nc, dims, tile);
      for (let t = 0; t < tracks; t++) {
        const base = t * m;
        for (let r = 0; r < nr; r++) {
          let best = maxSimilarity[base + r0 + r] as number;
          let bestAt = argMax[base + r0 + r] as number;
          const o = r * nc;
          for (let c = 0; c < nc; c++) {
            const s = tile[o + c] as number;
            if (s > best && (keptOnlyThresholds === null || kept[base + c0 + c] === 1)) {
              best = s;
              bestAt = c0 + c;
            }
          }
          maxSimilarity[base + r0 + r] = best;
          argMax[base + r0 + r] = bestAt;
        }
      }
    }

    // The diagonal tile: only columns before the row, decided in order.
    await product(rowBlock, nr, rowBlock, nr, dims, tile);
    for (let r = 0; r < nr; r++) {
      const o = r * nr;
      for (let t = 0; t < tracks; t++) {
        const base = t * m;
        let best = maxSimilarity[base + r0 + r] as number;
        let bestAt = argMax[base + r0 + r] as number;
        for (let c = 0; c < r; c++) {
          const s = tile[o + c] as number;
          if (s > best && (keptOnlyThresholds === null || kept[base + r0 + c] === 1)) {
            best = s;
            bestAt = r0 + c;
          }
        }
        maxSimilarity[base + r0 + r] = best;
        argMax[base + r0 + r] = bestAt;
        if (keptOnlyThresholds !== null) kept[base + r0 + r] = best > (keptOnlyThresholds[t] as number) ? 0 : 1;
      }
    }
  }
}
