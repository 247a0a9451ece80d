import { seededRandom } from '@sift/numeric';
import {
  type ClusteredEmbeddings,
  type ClusterMembers,
  centroidSimilarity,
  checkClusteredEmbeddings,
  clusterMembers,
} from './clustered-embeddings.js';
import { type EarlierSimilarityBuffers, scanEarlierSimilarity, type TileProduct } from './earlier-similarity.js';
import { checkInRange, checkInteger, checkOneOf, invalidArgument } from './parameter-checks.js';

/**
 * Which point of a near-duplicate group SemDeDup keeps, by fixing the order in which each cluster is
 * scanned (the first point of a group survives).
 * - `hardest`: farthest from the centroid first (the reference default).
 * - `easiest`: closest to the centroid first.
 * - `random`: a seeded shuffle of each cluster.
 */
export type SemDedupKeep = 'hardest' | 'easiest' | 'random';

/**
 * Which earlier points can make a later one a duplicate.
 * - `all-earlier`: every earlier point, even one that was itself dropped (the reference: a chain a~b~c
 *   where a and c are not similar drops both b and c).
 * - `kept-only`: only earlier points that were kept (the same chain keeps c).
 */
export type SemDedupComparison = 'all-earlier' | 'kept-only';

export const semDedupKeeps: readonly SemDedupKeep[] = ['hardest', 'easiest', 'random'];
export const semDedupComparisons: readonly SemDedupComparison[] = ['all-earlier', 'kept-only'];

/** Default rows per similarity block: a 1024 × 1024 float tile is 4 MiB. */
export const defaultSemDedupBlockRows = 1024;

export interface SemDedupOrderOptions {
  /** Default `hardest`. */
  keep?: SemDedupKeep;
  /** Seed of the `random` order; default 0. */
  seed?: number;
  /** Rows per similarity block (memory is blockRows² floats); default 1024. */
  blockRows?: number;
  /** The similarity-tile kernel; default the TypeScript one (see {@link TileProduct}). */
  product?: TileProduct;
  /** Checked before each cluster: an aborted job stops within one cluster's scan. */
  signal?: AbortSignal;
  /** Called after each cluster with the rows scanned so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface SemDedupOptions extends SemDedupOrderOptions {
  /** The eps applied: j is a duplicate when its max similarity to an earlier point exceeds 1 − eps; in (0, 1). */
  eps: number;
  /** Further eps values to report the removed fraction for (e.g. 0.01 … 0.1); each in (0, 1). */
  sweepEps?: readonly number[];
  /** Default `all-earlier`, the reference rule. */
  comparison?: SemDedupComparison;
}

/** The removed fraction SemDeDup would give at one eps (same keep order and comparison rule). */
export interface SemDedupSweepPoint {
  eps: number;
  removed: number;
  removedFraction: number;
}

export interface SemDedupResult {
  eps: number;
  keep: SemDedupKeep;
  comparison: SemDedupComparison;
  /** 1 when the row survives at `eps`. */
  kept: Uint8Array;
  /**
   * Per row, the earlier row (in keep order, same cluster) most similar to it among those the comparison
   * rule counts: what a dropped row duplicates, and a kept row's nearest earlier neighbour. -1 for the
   * first row of a cluster, or (kept-only) when no earlier row was kept.
   */
  duplicateOf: Int32Array;
  /** cos(row, duplicateOf); -Infinity where duplicateOf is -1 (a max over no points). */
  similarity: Float32Array;
  /** Position of each row in its cluster's keep order (0 = scanned first, never a duplicate). */
  rank: Int32Array;
  /** Rows dropped at `eps`. */
  removed: number;
  /** One entry per `sweepEps` value, in the order given. */
  sweep: SemDedupSweepPoint[];
}

/** The eps-independent part of SemDeDup under the reference (all-earlier) rule. */
export interface SemDedupSimilarities {
  /** M_j = max over earlier rows i of cos(x_i, x_j); -Infinity for the first row of a cluster. */
  maxSimilarity: Float32Array;
  /** The earlier row attaining M_j; -1 for the first row of a cluster. */
  duplicateOf: Int32Array;
  rank: Int32Array;
}

/**
 * SemDeDup (Abbas et al. 2023, "SemDeDup: Data-efficient learning at web-scale through semantic
 * deduplication", the per-cluster algorithm). Inside each k-means cluster, rows are ordered by the keep rule; with
 * S = X Xᵀ over the cluster, M_j = max_{i before j} S_ij, and j is dropped when M_j > 1 − eps.
 *
 * The comparison rule is explicit because the reference's greedy behaviour surprises users (see
 * {@link SemDedupComparison}). Similarities are computed in blocks (see {@link scanEarlierSimilarity}).
 *
 * The sweep is exact for both rules in the same pass over the data: under `all-earlier` M_j does not depend
 * on eps, so each eps is a threshold on the same M; under `kept-only` the set of counted points does depend
 * on eps, so every eps runs its own greedy track over the shared similarity tiles.
 */
export async function semDedup(input: ClusteredEmbeddings, options: SemDedupOptions): Promise<SemDedupResult> {
  const { n, k } = checkClusteredEmbeddings(input);
  const eps = checkInRange(options.eps, 'eps', 0, 1);
  const sweepEps = (options.sweepEps ?? []).map((e, i) => checkInRange(e, `sweepEps[${i}]`, 0, 1));
  const comparison = checkOneOf(options.comparison ?? 'all-earlier', 'comparison', semDedupComparisons);
  const { keep, seed, blockRows } = checkOrderOptions(options);

  // Track 0 is the applied eps; sweep values that repeat it (or each other) share a track.
  const epsTracks = [eps, ...sweepEps.filter((e) => e !== eps)].filter((e, i, all) => all.indexOf(e) === i);
  const thresholds = Float64Array.from(epsTracks, (e) => 1 - e);
  const members = clusterMembers(input.labels, k);
  const ordered = keepOrder(input, members, keep, seed);
  const scan = await scanClusters(input, members, ordered, blockRows, thresholds, comparison === 'kept-only', options);

  const removedAt = (e: number) => scan.removed[epsTracks.indexOf(e)] as number;
  return {
    eps,
    keep,
    comparison,
    kept: scan.kept,
    duplicateOf: scan.duplicateOf,
    similarity: scan.similarity,
    rank: scan.rank,
    removed: removedAt(eps),
    sweep: sweepEps.map((e) => ({ eps: e, removed: removedAt(e), removedFraction: n === 0 ? 0 : removedAt(e) / n })),
  };
}

/**
 * M_j and its argmax for every row under the reference (all-earlier) rule, without choosing eps: what a
 * caller needs to pick the threshold itself, e.g. D4 removing an exact number of rows.
 */
export async function semDedupSimilarities(
  input: ClusteredEmbeddings,
  options: SemDedupOrderOptions = {},
): Promise<SemDedupSimilarities> {
  const { k } = checkClusteredEmbeddings(input);
  const { keep, seed, blockRows } = checkOrderOptions(options);
  const members = clusterMembers(input.labels, k);
  const ordered = keepOrder(input, members, keep, seed);
  const scan = await scanClusters(input, members, ordered, blockRows, new Float64Array(0), false, options);
  return { maxSimilarity: scan.similarity, duplicateOf: scan.duplicateOf, rank: scan.rank };
}

/**
 * `members` reordered within each cluster into keep order. Hardest/easiest sort by cosine to the centroid
 * (distance 1 − cos, so farthest = smallest cosine); equal distances fall back to the row index so the
 * order, and hence which duplicate survives, never depends on the sort implementation.
 */
export function keepOrder(
  input: ClusteredEmbeddings,
  members: ClusterMembers,
  keep: SemDedupKeep,
  seed: number,
): Int32Array {
  const ordered = members.members.slice();
  if (keep === 'random') {
    // One generator walked over the clusters in index order: the same seed gives the same order.
    const random = seededRandom(seed);
    for (let c = 0; c < members.k; c++) {
      const start = members.offsets[c] as number;
      const size = (members.offsets[c + 1] as number) - start;
      for (let i = size - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = ordered[start + i] as number;
        ordered[start + i] = ordered[start + j] as number;
        ordered[start + j] = t;
      }
    }
    return ordered;
  }
  const sim = centroidSimilarity(input);
  const sign = keep === 'hardest' ? 1 : -1;
  for (let c = 0; c < members.k; c++) {
    ordered
      .subarray(members.offsets[c] as number, members.offsets[c + 1] as number)
      .sort((a, b) => sign * ((sim[a] as number) - (sim[b] as number)) || a - b);
  }
  return ordered;
}

function checkOrderOptions(options: SemDedupOrderOptions): { keep: SemDedupKeep; seed: number; blockRows: number } {
  return {
    keep: checkOneOf(options.keep ?? 'hardest', 'keep', semDedupKeeps),
    seed: checkInteger(options.seed ?? 0, 'seed', 0),
    blockRows: checkInteger(options.blockRows ?? defaultSemDedupBlockRows, 'blockRows', 1),
  };
}

interface ClusterScan {
  kept: Uint8Array;
  duplicateOf: Int32Array;
  similarity: Float32Array;
  rank: Int32Array;
  /** Rows removed per threshold. */
  removed: Float64Array;
}

/**
 * Runs the blocked scan over every cluster and turns positions back into row indices. Per-row outputs
 * are kept for track 0 only; the other thresholds only count removals, so a long sweep costs no memory
 * per row.
 */
async function scanClusters(
  input: ClusteredEmbeddings,
  members: ClusterMembers,
  ordered: Int32Array,
  blockRows: number,
  thresholds: Float64Array,
  keptOnly: boolean,
  { product, signal, onProgress }: Pick<SemDedupOrderOptions, 'product' | 'signal' | 'onProgress'>,
): Promise<ClusterScan> {
  const { embeddings, dims } = input;
  const n = ordered.length;
  const out: ClusterScan = {
    kept: new Uint8Array(n).fill(1),
    duplicateOf: new Int32Array(n),
    similarity: new Float32Array(n),
    rank: new Int32Array(n),
    removed: new Float64Array(thresholds.length),
  };
  if (keptOnly && thresholds.length === 0) throw invalidArgument('eps', 'is required for the kept-only rule');
  let largest = 0;
  for (let c = 0; c < members.k; c++) {
    largest = Math.max(largest, (members.offsets[c + 1] as number) - (members.offsets[c] as number));
  }
  const tracks = keptOnly ? thresholds.length : 1;
  const tileRows = Math.min(blockRows, largest);
  const rows = new Float32Array(largest * dims);
  const buffers: EarlierSimilarityBuffers = {
    maxSimilarity: new Float32Array(tracks * largest),
    argMax: new Int32Array(tracks * largest),
    kept: new Uint8Array(tracks * largest),
    tile: new Float32Array(tileRows * tileRows),
  };

  for (let c = 0; c < members.k; c++) {
    const start = members.offsets[c] as number;
    const m = (members.offsets[c + 1] as number) - start;
    if (m === 0) continue;
    signal?.throwIfAborted();
    // Gathering the cluster once in keep order makes every tile a contiguous slice for the GEMM kernel.
    for (let p = 0; p < m; p++) {
      const j = ordered[start + p] as number;
      rows.set(embeddings.subarray(j * dims, j * dims + dims), p * dims);
    }
    await scanEarlierSimilarity(rows, m, dims, blockRows, keptOnly ? thresholds : null, buffers, product);

    for (let p = 0; p < m; p++) {
      const j = ordered[start + p] as number;
      const best = buffers.maxSimilarity[p] as number;
      const at = buffers.argMax[p] as number;
      out.rank[j] = p;
      // Float32 rounding can put the cosine of near-identical unit vectors a hair above 1.
      out.similarity[j] = Math.min(1, best);
      out.duplicateOf[j] = at < 0 ? -1 : (ordered[start + at] as number);
      for (let t = 0; t < thresholds.length; t++) {
        const dropped = keptOnly ? buffers.kept[t * m + p] === 0 : best > (thresholds[t] as number);
        if (!dropped) continue;
        out.removed[t] = (out.removed[t] as number) + 1;
        if (t === 0) out.kept[j] = 0;
      }
    }
    onProgress?.(start + m, n);
  }
  return out;
}
