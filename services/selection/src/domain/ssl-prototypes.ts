import { type ClusteredEmbeddings, centroidSimilarity, checkClusteredEmbeddings } from './clustered-embeddings.js';
import { checkOneOf, keepCountOf } from './parameter-checks.js';

/**
 * Which end of the prototypicality ranking is removed.
 * - `most-prototypical`: the rows closest to their centroid (the right choice with plenty of data).
 * - `hardest`: the rows farthest from their centroid (the right choice with little data).
 */
export type PrototypeDrop = 'most-prototypical' | 'hardest';

export const prototypeDrops: readonly PrototypeDrop[] = ['most-prototypical', 'hardest'];

export interface SslPrototypesOptions {
  /** Fraction of the rows to keep, in (0, 1]; rounded to the nearest count. Set this or keepCount. */
  keepFraction?: number;
  /** Number of rows to keep, in [0, n]. Set this or keepFraction. */
  keepCount?: number;
  /** Default `most-prototypical`. */
  drop?: PrototypeDrop;
}

export interface SslPrototypesResult {
  drop: PrototypeDrop;
  /** Rows kept; exactly the requested count. */
  keepCount: number;
  /** 1 when the row is kept. */
  kept: Uint8Array;
  /** Cosine distance of each row to its centroid (1 − cos); small = prototypical. */
  scores: Float32Array;
}

/**
 * The self-supervised prototype metric (Sorscher et al. 2022, "Beyond neural scaling laws: beating power
 * law scaling via data pruning", the SSL-prototypes metric): a row's difficulty is its cosine distance
 * 1 − cos(x, μ_c) to the centroid of its k-means cluster.
 *
 * The centroid is the row's assigned one (its label), which for a converged spherical k-means is also the
 * nearest; taking the label keeps the score consistent with the clustering the caller reports.
 */
export function sslPrototypeScores(input: ClusteredEmbeddings): Float32Array {
  checkClusteredEmbeddings(input);
  const sim = centroidSimilarity(input);
  const scores = new Float32Array(sim.length);
  for (let i = 0; i < sim.length; i++) scores[i] = 1 - (sim[i] as number);
  return scores;
}

/**
 * SSL-prototype pruning (Sorscher et al. 2022): rank rows by {@link sslPrototypeScores} and remove
 * n − keepCount of them from one end. With plenty of data, dropping the easy (prototypical) rows is what
 * beats power-law scaling; with little data the paper's analysis flips and the hardest should go.
 *
 * Ranking uses the float32 scores that are returned, so a reader can re-derive every decision from the
 * output. Equal scores keep the earlier row (the higher index is dropped first), the same convention as
 * exact deduplication.
 */
export function sslPrototypes(input: ClusteredEmbeddings, options: SslPrototypesOptions): SslPrototypesResult {
  const { n } = checkClusteredEmbeddings(input);
  const keepCount = keepCountOf(n, options.keepFraction, options.keepCount);
  const drop = checkOneOf(options.drop ?? 'most-prototypical', 'drop', prototypeDrops);
  const scores = sslPrototypeScores(input);
  const kept = new Uint8Array(n).fill(1);
  for (const i of dropOrder(scores, drop).subarray(0, n - keepCount)) kept[i] = 0;
  return { drop, keepCount, kept, scores };
}

/** Every row index, first-to-drop first: by score (ascending or descending), then higher index first. */
export function dropOrder(scores: Float32Array, drop: PrototypeDrop): Int32Array {
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  const sign = drop === 'most-prototypical' ? 1 : -1;
  return order.sort((a, b) => sign * ((scores[a] as number) - (scores[b] as number)) || b - a);
}
