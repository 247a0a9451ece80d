import { SiftError } from '@sift/kit/errors';
import { gatherRows, type KMeansResult } from '@sift/numeric';
import { type ClusteredEmbeddings, checkClusteredEmbeddings } from './clustered-embeddings.js';
import type { TileProduct } from './earlier-similarity.js';
import { checkInRange, checkInteger, checkOneOf, invalidArgument } from './parameter-checks.js';
import { type SemDedupKeep, semDedupKeeps, semDedupSimilarities } from './sem-dedup.js';
import { type PrototypeDrop, prototypeDrops, sslPrototypes } from './ssl-prototypes.js';

/**
 * Clusters unit rows x [rows, d] into k clusters (spherical k-means in production). A parameter so that
 * D4 stays pure: the service passes `sphericalKMeans` with its kernel, tests pass something exact.
 */
export type ClusterFunction = (x: Float32Array, d: number, k: number, seed: number) => Promise<KMeansResult>;

export const defaultD4DedupRatio = 0.75;

export interface D4Options {
  /** R_dedup: fraction of the rows SemDeDup keeps, in (0, 1]; default 0.75. */
  dedupRatio?: number;
  /** R: fraction of the original rows kept at the end, in (0, dedupRatio]. */
  keepRatio: number;
  /** k of the re-clustering of the SemDeDup survivors. */
  reclusterK: number;
  /** Seed of the re-clustering and of the `random` keep order; default 0. */
  seed?: number;
  /** Which near-duplicate survives the SemDeDup phase; default `hardest`. */
  dedupKeep?: SemDedupKeep;
  /** Which end the prototype phase removes; default `most-prototypical`. */
  prototypeDrop?: PrototypeDrop;
  /** SemDeDup similarity block rows; default 1024. */
  blockRows?: number;
  /** SemDeDup's similarity-tile kernel; default the TypeScript one. */
  product?: TileProduct;
}

/** The D4 phase that decided a row: the phase that dropped it, or for a kept row the last phase. */
export type D4Stage = 'sem-dedup' | 'ssl-prototypes';

/** Why a row was dropped or kept (names follow selection.v1 DecisionReason). */
export type D4Reason = 'kept' | 'semantic-duplicate' | 'prototypical' | 'too-hard';

export interface D4Result {
  /** 1 when the row survives both phases; exactly round(R·N) rows. */
  kept: Uint8Array;
  stage: D4Stage[];
  reason: D4Reason[];
  /** For a semantic duplicate, the earlier row it duplicates; otherwise -1. */
  duplicateOf: Int32Array;
  /** M_j of the SemDeDup phase for every row (-Infinity for the first row of a cluster). */
  maxSimilarity: Float32Array;
  /** Prototype score (cosine distance to the re-clustered centroid) of each SemDeDup survivor; NaN otherwise. */
  prototypeScore: Float32Array;
  /** Rows kept by the SemDeDup phase, round(R_dedup·N). */
  dedupKeepCount: number;
  /** The smallest M_j among removed rows (NaN when none was removed): the similarity threshold reached. */
  dedupCutoff: number;
  /** Rows kept at the end, round(R·N). */
  keepCount: number;
  /** SemDeDup survivors in ascending order; the re-clustering's rows are these, in this order. */
  survivors: Int32Array;
  recluster: KMeansResult;
}

/**
 * D4 (Tirumala et al. 2023, "D4: Improving LLM Pretraining via Document De-Duplication and
 * Diversification"): SemDeDup down to R_dedup·N, re-cluster the survivors, then SSL-prototype pruning down
 * to R·N of the ORIGINAL N (so the prototype phase keeps R/R_dedup of the survivors).
 *
 * Reaching R_dedup·N: the paper tunes eps until the target remains. Under the reference (all-earlier)
 * rule M_j does not depend on eps and "M_j > 1 − eps" is monotone in eps, so sweeping eps is the same as
 * ranking rows by M_j and removing the N − round(R_dedup·N) largest. This function ranks (exact, no search);
 * ties at the cut keep the lower row index, so the count is met exactly even when a threshold could not
 * split the tie. The similarity reached is reported as `dedupCutoff`. The kept-only rule is not offered:
 * its removals are not monotone in a single score, so no ranking hits a count exactly.
 *
 * A cluster's first row (in keep order) has no earlier row and is never removed, so R_dedup·N must be at
 * least the number of non-empty clusters.
 */
export async function d4(input: ClusteredEmbeddings, options: D4Options, cluster: ClusterFunction): Promise<D4Result> {
  const { n } = checkClusteredEmbeddings(input);
  const dedupRatio = checkInRange(options.dedupRatio ?? defaultD4DedupRatio, 'dedupRatio', 0, 1, true);
  const keepRatio = checkInRange(options.keepRatio, 'keepRatio', 0, 1, true);
  if (keepRatio > dedupRatio) {
    throw invalidArgument('keepRatio', `(${keepRatio}) must not exceed dedupRatio (${dedupRatio})`);
  }
  const seed = checkInteger(options.seed ?? 0, 'seed', 0);
  const dedupKeep = checkOneOf(options.dedupKeep ?? 'hardest', 'dedupKeep', semDedupKeeps);
  const prototypeDrop = checkOneOf(options.prototypeDrop ?? 'most-prototypical', 'prototypeDrop', prototypeDrops);
  const dedupKeepCount = Math.round(dedupRatio * n);
  const keepCount = Math.round(keepRatio * n);
  const reclusterK = checkInteger(options.reclusterK, 'reclusterK', 1, Math.max(1, dedupKeepCount));

  // Phase 1: SemDeDup by rank on M_j.
  const sims = await semDedupSimilarities(input, {
    keep: dedupKeep,
    seed,
    ...(options.blockRows === undefined ? {} : { blockRows: options.blockRows }),
    ...(options.product ? { product: options.product } : {}),
  });
  const M = sims.maxSimilarity;
  const removable = Int32Array.from({ length: n }, (_, i) => i).filter(
    (i) => (M[i] as number) > Number.NEGATIVE_INFINITY,
  );
  const toRemove = n - dedupKeepCount;
  if (toRemove > removable.length) {
    throw invalidArgument(
      'dedupRatio',
      `(${dedupRatio}) asks SemDeDup to keep ${dedupKeepCount} of ${n} rows, but the first row of each non-empty cluster is never a duplicate, so at least ${n - removable.length} remain`,
    );
  }
  removable.sort((a, b) => (M[b] as number) - (M[a] as number) || b - a);
  const stage: D4Stage[] = new Array(n).fill('ssl-prototypes');
  const reason: D4Reason[] = new Array(n).fill('kept');
  const duplicateOf = new Int32Array(n).fill(-1);
  const dedupKept = new Uint8Array(n).fill(1);
  for (let r = 0; r < toRemove; r++) {
    const i = removable[r] as number;
    dedupKept[i] = 0;
    stage[i] = 'sem-dedup';
    reason[i] = 'semantic-duplicate';
    duplicateOf[i] = sims.duplicateOf[i] as number;
  }
  const dedupCutoff = toRemove === 0 ? Number.NaN : (M[removable[toRemove - 1] as number] as number);

  // Phase 2: re-cluster the survivors, so prototypes reflect the deduplicated density, not the original.
  const survivors = Int32Array.from({ length: n }, (_, i) => i).filter((i) => dedupKept[i] === 1);
  const x = gatherRows(input.embeddings, survivors, input.dims);
  const recluster = await cluster(x, input.dims, reclusterK, seed);
  if (recluster.labels.length !== survivors.length || recluster.centroids.length % input.dims !== 0) {
    throw new SiftError(
      'internal',
      `the clustering function returned ${recluster.labels.length} labels for ${survivors.length} rows`,
    );
  }

  // Phase 3: SSL prototypes down to round(R·N) of the original rows.
  const ssl = sslPrototypes(
    { embeddings: x, dims: input.dims, labels: recluster.labels, centroids: recluster.centroids },
    { keepCount, drop: prototypeDrop },
  );
  const kept = new Uint8Array(n);
  const prototypeScore = new Float32Array(n).fill(Number.NaN);
  const dropReason: D4Reason = prototypeDrop === 'hardest' ? 'too-hard' : 'prototypical';
  for (let s = 0; s < survivors.length; s++) {
    const i = survivors[s] as number;
    prototypeScore[i] = ssl.scores[s] as number;
    if (ssl.kept[s] === 1) kept[i] = 1;
    else reason[i] = dropReason;
  }

  return {
    kept,
    stage,
    reason,
    duplicateOf,
    maxSimilarity: M,
    prototypeScore,
    dedupKeepCount,
    dedupCutoff,
    keepCount,
    survivors,
    recluster,
  };
}
