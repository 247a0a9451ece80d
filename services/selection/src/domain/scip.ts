import {
  type ClusteredEmbeddings,
  centroidSimilarity,
  checkClusteredEmbeddings,
  clusterMembers,
} from './clustered-embeddings.js';
import { invalidArgument } from './parameter-checks.js';

export const defaultSmallClusterShare = 0.5;

export interface ScipOptions {
  /** Fraction of the rows to drop, in [0, 1); the budget B = round(pruneFraction · n). */
  pruneFraction: number;
  /** Share of B spent on whole smallest clusters, in [0, 1]; default 0.5. */
  smallClusterShare?: number;
}

/** Why a row was dropped; `scipDropReasons[reason[i] − 1]` for a dropped row. */
export const scipDropReasons = ['small-cluster', 'far-from-centroid'] as const;
export type ScipDropReason = (typeof scipDropReasons)[number];

export interface ScipResult {
  /** Rows dropped in total, B. */
  budget: number;
  /** Rows dropped from the smallest clusters, round(smallClusterShare · B). */
  smallClusterBudget: number;
  /** Rows dropped for their distance to the centroid, B − smallClusterBudget. */
  farBudget: number;
  /** 1 when the row is kept. */
  kept: Uint8Array;
  /** 0 when kept; 1 dropped as part of a small cluster; 2 dropped as far from its centroid. */
  reason: Uint8Array;
  /** Cosine distance 1 − cos(x, μ) of each row to its centroid (float32, as ranked). */
  score: Float32Array;
  /** Size of each row's cluster (rows in the whole input). */
  clusterSize: Int32Array;
  /** Rows per cluster. */
  sizes: Int32Array;
  /** Clusters the small-cluster budget emptied completely, in the order they were taken. */
  droppedClusters: Int32Array;
  /** The cluster the small-cluster budget reached but could only partly drop; −1 if none. */
  partialCluster: number;
}

/** The reason of row `i` in words; undefined when it is kept. */
export function scipDropReason(result: ScipResult, i: number): ScipDropReason | undefined {
  const code = result.reason[i] as number;
  return code === 0 ? undefined : scipDropReasons[code - 1];
}

/**
 * SCIP pruning (Yang et al. 2023, "Decoding data quality via synthetic corruptions"). Synthetic corruptions
 * showed that bad code sits in small clusters and far from centroids, so SCIP removes both. The budget
 * B = round(pruneFraction · n) is split: round(smallClusterShare · B) rows go by emptying the smallest
 * clusters first (ascending size, equal sizes by lower cluster index; empty clusters are skipped), and when
 * the next cluster is larger than what is left of that share, its rows farthest from the centroid go. The
 * remaining B − round(smallClusterShare · B) rows are those farthest from their centroid among all rows
 * still kept, across clusters.
 *
 * The paper gives the two criteria but not how to combine them; the split share is our parameter (the
 * proto's `small_cluster_share`). Equal distances drop the higher row index first, the selection-wide
 * convention. Distances are ranked as the float32 values returned, so every decision can be re-derived from
 * the output.
 */
export function scipPrune(input: ClusteredEmbeddings, options: ScipOptions): ScipResult {
  const { n, k } = checkClusteredEmbeddings(input);
  const { pruneFraction } = options;
  if (!Number.isFinite(pruneFraction) || pruneFraction < 0 || pruneFraction >= 1) {
    throw invalidArgument('pruneFraction', `must be in [0, 1), got ${pruneFraction}`);
  }
  const share = options.smallClusterShare ?? defaultSmallClusterShare;
  if (!Number.isFinite(share) || share < 0 || share > 1) {
    throw invalidArgument('smallClusterShare', `must be in [0, 1], got ${share}`);
  }
  // A fraction below 1 never empties the dataset, however it rounds (0.99 of 40 records is 39, not 40).
  const budget = Math.min(Math.round(pruneFraction * n), Math.max(0, n - 1));
  const smallClusterBudget = Math.round(share * budget);
  const farBudget = budget - smallClusterBudget;

  const sim = centroidSimilarity(input);
  const score = new Float32Array(n);
  for (let i = 0; i < n; i++) score[i] = 1 - (sim[i] as number);
  const farthestFirst = (a: number, b: number) => (score[b] as number) - (score[a] as number) || b - a;

  const members = clusterMembers(input.labels, k);
  const sizes = new Int32Array(k);
  for (let c = 0; c < k; c++) sizes[c] = (members.offsets[c + 1] as number) - (members.offsets[c] as number);
  const clusterSize = new Int32Array(n);
  for (let i = 0; i < n; i++) clusterSize[i] = sizes[input.labels[i] as number] as number;

  const kept = new Uint8Array(n).fill(1);
  const reason = new Uint8Array(n);
  const drop = (i: number, code: 1 | 2) => {
    kept[i] = 0;
    reason[i] = code;
  };

  const clusterOrder = Int32Array.from({ length: k }, (_, c) => c).sort(
    (a, b) => (sizes[a] as number) - (sizes[b] as number) || a - b,
  );
  const droppedClusters: number[] = [];
  let partialCluster = -1;
  let left = smallClusterBudget;
  for (const c of clusterOrder) {
    if (left === 0) break;
    const size = sizes[c] as number;
    if (size === 0) continue;
    const rows = members.members.subarray(members.offsets[c] as number, members.offsets[c + 1] as number);
    if (size <= left) {
      for (const i of rows) drop(i, 1);
      droppedClusters.push(c);
      left -= size;
    } else {
      const order = Int32Array.from(rows).sort(farthestFirst);
      for (let r = 0; r < left; r++) drop(order[r] as number, 1);
      partialCluster = c;
      left = 0;
    }
  }

  const remaining = Int32Array.from({ length: n }, (_, i) => i)
    .filter((i) => kept[i] === 1)
    .sort(farthestFirst);
  for (let r = 0; r < farBudget; r++) drop(remaining[r] as number, 2);

  return {
    budget,
    smallClusterBudget,
    farBudget,
    kept,
    reason,
    score,
    clusterSize,
    sizes,
    droppedClusters: Int32Array.from(droppedClusters),
    partialCluster,
  };
}

/** Where rows landed in a clustering: per row, its cluster's size and its cosine distance to the centroid. */
export interface ClusterPlacement {
  clusterSize: ArrayLike<number>;
  centroidDistance: ArrayLike<number>;
}

/**
 * The placement of each row of `input`. `sizes` are the cluster sizes to report, by default counted from
 * `input.labels`; for corrupted files assigned to an existing clustering, pass the sizes of that clustering
 * (the corrupted copies are not members of it).
 */
export function clusterPlacement(
  input: ClusteredEmbeddings,
  sizes?: ArrayLike<number>,
): { clusterSize: Int32Array; centroidDistance: Float32Array } {
  const { n, k } = checkClusteredEmbeddings(input);
  let counts = sizes;
  if (counts === undefined) {
    const own = new Int32Array(k);
    for (let i = 0; i < n; i++) own[input.labels[i] as number] = (own[input.labels[i] as number] as number) + 1;
    counts = own;
  } else if (counts.length !== k) {
    throw invalidArgument('sizes', `has ${counts.length} entries for ${k} clusters`);
  }
  const sim = centroidSimilarity(input);
  const clusterSize = new Int32Array(n);
  const centroidDistance = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    clusterSize[i] = counts[input.labels[i] as number] as number;
    centroidDistance[i] = 1 - (sim[i] as number);
  }
  return { clusterSize, centroidDistance };
}

/** How corruption moved a set of original/corrupted pairs. NaN means and shares when there are no pairs. */
export interface CorruptionShiftSummary {
  pairs: number;
  meanOriginalClusterSize: number;
  meanCorruptedClusterSize: number;
  /** Mean of corrupted − original cluster size; negative = corrupted files land in smaller clusters. */
  meanClusterSizeDelta: number;
  meanOriginalDistance: number;
  meanCorruptedDistance: number;
  /** Mean of corrupted − original cosine distance to the centroid; positive = farther out. */
  meanDistanceDelta: number;
  /** Share of pairs whose corrupted copy is in a strictly smaller cluster. */
  smallerClusterShare: number;
  /** Share of pairs whose corrupted copy is strictly farther from its centroid. */
  fartherShare: number;
}

export interface CorruptionShiftReport extends CorruptionShiftSummary {
  /** The same summary per group label (e.g. per corruption kind), when groups were given. */
  byGroup: Record<string, CorruptionShiftSummary>;
}

/**
 * The check behind SCIP: pair i is an original file and its corrupted copy, each placed in the same
 * clustering ({@link clusterPlacement}). The paper's finding, which the pruning relies on, is that
 * corruption moves files into smaller clusters (meanClusterSizeDelta < 0, smallerClusterShare high) and
 * away from their centroid (meanDistanceDelta > 0, fartherShare high). `groups`, parallel to the pairs,
 * splits the report, e.g. by corruption kind or by syntax/content family.
 */
export function corruptionShift(
  original: ClusterPlacement,
  corrupted: ClusterPlacement,
  groups?: readonly string[],
): CorruptionShiftReport {
  const n = original.clusterSize.length;
  const columns: [string, ArrayLike<unknown>][] = [
    ['original.centroidDistance', original.centroidDistance],
    ['corrupted.clusterSize', corrupted.clusterSize],
    ['corrupted.centroidDistance', corrupted.centroidDistance],
  ];
  if (groups !== undefined) columns.push(['groups', groups]);
  for (const [name, column] of columns) {
    if (column.length !== n) throw invalidArgument(name, `has ${column.length} entries for ${n} pairs`);
  }
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const byGroup: Record<string, CorruptionShiftSummary> = {};
  if (groups !== undefined) {
    for (const label of [...new Set(groups)].sort()) {
      byGroup[label] = summarise(
        original,
        corrupted,
        all.filter((i) => groups[i] === label),
      );
    }
  }
  return { ...summarise(original, corrupted, all), byGroup };
}

function summarise(original: ClusterPlacement, corrupted: ClusterPlacement, rows: Int32Array): CorruptionShiftSummary {
  let sizeBefore = 0;
  let sizeAfter = 0;
  let distBefore = 0;
  let distAfter = 0;
  let smaller = 0;
  let farther = 0;
  for (const i of rows) {
    const s0 = original.clusterSize[i] as number;
    const s1 = corrupted.clusterSize[i] as number;
    const d0 = original.centroidDistance[i] as number;
    const d1 = corrupted.centroidDistance[i] as number;
    sizeBefore += s0;
    sizeAfter += s1;
    distBefore += d0;
    distAfter += d1;
    if (s1 < s0) smaller++;
    if (d1 > d0) farther++;
  }
  const m = rows.length;
  return {
    pairs: m,
    meanOriginalClusterSize: sizeBefore / m,
    meanCorruptedClusterSize: sizeAfter / m,
    meanClusterSizeDelta: (sizeAfter - sizeBefore) / m,
    meanOriginalDistance: distBefore / m,
    meanCorruptedDistance: distAfter / m,
    meanDistanceDelta: (distAfter - distBefore) / m,
    smallerClusterShare: smaller / m,
    fartherShare: farther / m,
  };
}
