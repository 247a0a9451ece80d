import { SiftError } from '@sift/kit';
import { type AssignKernel, gatherRows, type KMeansResult, sphericalKMeans } from '@sift/numeric';
import { clusterSizeHistogram } from '../report.js';
import { aliveIndices, type PipelineState } from '../state.js';
import type { KMeansParams, StepOf } from '../steps.js';
import { keptAside, placeable, requireEmbeddings } from './clustered-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * Clusters the placeable alive records with spherical k-means: the clustering the later embedding-space
 * steps read (records it did not place have label -1).
 */
export async function kmeansStage(
  step: StepOf<'kmeans'>,
  state: PipelineState,
  ctx: StageContext,
): Promise<StageFacts> {
  const alive = aliveIndices(state);
  const { vectors, dims } = requireEmbeddings(state);
  const { records, unplaced } = placeable(state, alive);
  if (step.k > records.length) {
    const aside = unplaced > 0 ? ` (${unplaced} more have all-zero vectors and are kept aside)` : '';
    throw new SiftError(
      'invalid_argument',
      `${step.name}: k = ${step.k} is larger than the ${records.length} records left to cluster${aside}`,
    );
  }
  ctx.progress(0, step.maxIterations);
  const x = gatherRows(vectors, records, dims);
  const r = await clusterRows(x, dims, step, {
    assign: ctx.kernels.assign,
    signal: ctx.signal,
    onIteration: (it) => ctx.progress(it, step.maxIterations),
  });
  const labels = new Int32Array(state.ids.length).fill(-1);
  const similarity = new Float32Array(state.ids.length);
  records.forEach((rec, row) => {
    labels[rec] = r.labels[row] as number;
    similarity[rec] = r.similarity[row] as number;
  });
  state.clustering = { k: step.k, labels, centroids: r.centroids, similarity };
  ctx.progress(step.maxIterations, step.maxIterations);
  return {
    clusterSizes: clusterSizeHistogram(r.labels, step.k),
    facts: { objective: r.objective, iterations: r.iterations, ...keptAside(unplaced) },
  };
}

/** Spherical k-means with the ONNX assignment kernel: the clustering every embedding-space step uses. */
export async function clusterRows(
  x: Float32Array,
  d: number,
  params: KMeansParams,
  ctx: { assign: AssignKernel; signal: AbortSignal; onIteration?: (iteration: number) => void },
): Promise<KMeansResult> {
  return sphericalKMeans(x, d, {
    k: params.k,
    seed: params.seed,
    maxIterations: params.maxIterations,
    tolerance: params.tolerance,
    assign: ctx.assign,
    signal: ctx.signal,
    ...(params.sampleSize > 0 ? { sampleSize: params.sampleSize } : {}),
    ...(params.miniBatchSize > 0 ? { miniBatchSize: params.miniBatchSize } : {}),
    ...(ctx.onIteration ? { onIteration: ctx.onIteration } : {}),
  });
}
