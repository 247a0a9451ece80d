import { rowDot } from '@sift/numeric';
import { checkInteger, invalidArgument } from './parameter-checks.js';

/**
 * The input every embedding-space selection method works on: unit embeddings and the spherical k-means
 * clustering of exactly those rows (as `sphericalKMeans` returns it).
 */
export interface ClusteredEmbeddings {
  /** L2-normalised embeddings, row-major [n, dims]; cosine similarity is then a dot product. */
  embeddings: Float32Array;
  dims: number;
  /** Cluster of each row, in [0, k). */
  labels: Int32Array;
  /** Unit centroids, row-major [k, dims]. */
  centroids: Float32Array;
}

/** Members of each cluster in compressed form: cluster c holds members[offsets[c] .. offsets[c + 1]). */
export interface ClusterMembers {
  k: number;
  /** Length k + 1. */
  offsets: Int32Array;
  /** Row indices grouped by cluster, ascending within a cluster. */
  members: Int32Array;
}

/** Checks the shapes of `input` and returns n (rows) and k (clusters). Unit norms are the caller's promise. */
export function checkClusteredEmbeddings(input: ClusteredEmbeddings): { n: number; k: number } {
  const { embeddings, dims, labels, centroids } = input;
  checkInteger(dims, 'dims', 1);
  if (embeddings.length % dims !== 0) {
    throw invalidArgument('embeddings', `length ${embeddings.length} is not a multiple of dims ${dims}`);
  }
  if (centroids.length % dims !== 0 || centroids.length === 0) {
    throw invalidArgument('centroids', `length ${centroids.length} must be a positive multiple of dims ${dims}`);
  }
  const n = embeddings.length / dims;
  const k = centroids.length / dims;
  if (labels.length !== n) throw invalidArgument('labels', `has ${labels.length} entries for ${n} embeddings`);
  for (let i = 0; i < n; i++) {
    const c = labels[i] as number;
    if (c < 0 || c >= k) throw invalidArgument(`labels[${i}]`, `must be a cluster index in [0, ${k}), got ${c}`);
  }
  return { n, k };
}

/** Groups rows by cluster with one counting pass (no per-cluster arrays, so 50k clusters stay cheap). */
export function clusterMembers(labels: Int32Array, k: number): ClusterMembers {
  const offsets = new Int32Array(k + 1);
  for (let i = 0; i < labels.length; i++) {
    const c = (labels[i] as number) + 1;
    offsets[c] = (offsets[c] as number) + 1;
  }
  for (let c = 0; c < k; c++) offsets[c + 1] = (offsets[c + 1] as number) + (offsets[c] as number);
  const members = new Int32Array(labels.length);
  const next = offsets.slice(0, k);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i] as number;
    members[next[c] as number] = i;
    next[c] = (next[c] as number) + 1;
  }
  return { k, offsets, members };
}

/**
 * Cosine similarity of every row to its own centroid. Recomputed from the centroids rather than taken
 * from k-means, because callers may pass centroids of a clustering fitted on other rows.
 */
export function centroidSimilarity(input: ClusteredEmbeddings): Float64Array {
  const { embeddings, dims, labels, centroids } = input;
  const out = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = rowDot(embeddings, i, centroids, labels[i] as number, dims);
  return out;
}
