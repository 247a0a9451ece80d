import type { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { inRange, intIn, unsetIsDefault } from './fields.js';

/** A k-means step (or D4's re-clustering) with its defaults applied. */
export interface KMeansParams {
  k: number;
  maxIterations: number;
  tolerance: number;
  seed: number;
  /** 0 fits on every record. */
  sampleSize: number;
  /** 0 runs full Lloyd iterations. */
  miniBatchSize: number;
}

/** Spherical k-means over the latest embeddings. */
export type ResolvedKMeans = { kind: 'kmeans' } & KMeansParams;

/** Records per centroid that k-means fits on when the step sets no sample size (faiss's default). */
export const defaultPointsPerCentroid = 256;

/** Resolves a kmeans step; `field` names it in errors (`steps[i].kmeans`). */
export function resolveKMeans(v: selectionV1.KMeansStep, field: string): ResolvedKMeans {
  if (v.spherical === false) {
    throw new SiftError('unimplemented', `${field}.spherical: only spherical (cosine) k-means is implemented`);
  }
  return { kind: 'kmeans', ...kmeansParams(v, field) };
}

/** The k-means parameters of a kmeans step or of D4's `recluster`; `field` names them in errors. */
export function kmeansParams(v: selectionV1.KMeansStep, field: string): KMeansParams {
  const k = intIn(v.k, 1, 1_000_000, `${field}.k`);
  return {
    k,
    maxIterations: intIn(v.maxIterations || 20, 1, 1000, `${field}.max_iterations`),
    tolerance: inRange(unsetIsDefault(v.tolerance, 1e-5), 0, 1, `${field}.tolerance`),
    seed: v.seed,
    // 0 (all records) is kept; a sample at least as large as the records left also fits on all of them.
    sampleSize:
      v.sampleSize === undefined
        ? defaultPointsPerCentroid * k
        : intIn(v.sampleSize, 0, Number.MAX_SAFE_INTEGER, `${field}.sample_size`),
    miniBatchSize: intIn(v.miniBatchSize, 0, Number.MAX_SAFE_INTEGER, `${field}.mini_batch_size`),
  };
}
