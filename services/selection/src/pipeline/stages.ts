import { createOrtAssignKernel } from '@sift/inference';
import { SiftError } from '@sift/kit';
import { type AssignKernel, gatherRows, type KMeansResult, sphericalKMeans } from '@sift/numeric';
import { d4, densityPruning, semDedup, sslPrototypes } from '../domain/index.js';
import type { TextEmbedder } from '../ports.js';
import { clusterSizeHistogram, type StageSummary } from './report.js';
import { aliveIndices, drop, type PipelineState } from './state.js';
import type { ResolvedStep } from './steps.js';

/** What a stage needs besides the state. */
export interface StageContext {
  embedder: TextEmbedder;
  progress: (done: number, total: number) => void;
  signal: AbortSignal;
}

type StageFacts = Pick<StageSummary, 'clusterSizes' | 'epsSweep' | 'facts'>;

let assignKernel: Promise<AssignKernel> | undefined;
/** The k-means assignment on ONNX Runtime's GEMM, created once per process. */
const ortAssign = () => {
  assignKernel ??= createOrtAssignKernel();
  return assignKernel;
};

/** Spherical k-means with the ONNX assignment kernel: the clustering every embedding-space step uses. */
export async function clusterRows(
  x: Float32Array,
  d: number,
  k: number,
  seed: number,
  maxIterations = 20,
  sampleSize = 0,
  tolerance = 1e-5,
): Promise<KMeansResult> {
  return sphericalKMeans(x, d, {
    k,
    seed,
    maxIterations,
    tolerance,
    assign: await ortAssign(),
    ...(sampleSize > 0 ? { sampleSize } : {}),
  });
}

/**
 * Runs one step on the alive records and records drops with their reasons. Steps see only the records
 * earlier steps kept; embedding-space steps use the latest clustering restricted to those records.
 */
export async function runStage(step: ResolvedStep, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  const alive = aliveIndices(state);
  switch (step.kind) {
    case 'embed': {
      const texts = Array.from(alive, (i) => state.texts[i] as string);
      const r = await ctx.embedder.embed(
        texts,
        { model: step.model, version: step.version, dimensions: step.dimensions, batchSize: step.batchSize },
        (done) => ctx.progress(done, texts.length),
        ctx.signal,
      );
      // Rows of records dropped before this step stay zero: no later step reads them.
      const vectors = new Float32Array(state.ids.length * r.dims);
      alive.forEach((rec, row) => {
        vectors.set(r.vectors.subarray(row * r.dims, (row + 1) * r.dims), rec * r.dims);
      });
      state.embeddings = { vectors, dims: r.dims, model: `${r.model.name}@${r.model.version}` };
      state.clustering = undefined;
      return { facts: { model: state.embeddings.model, dims: r.dims } };
    }
    case 'kmeans': {
      const { vectors, dims } = requireEmbeddings(state);
      if (step.k > alive.length) {
        throw new SiftError(
          'invalid_argument',
          `${step.name}: k = ${step.k} is larger than the ${alive.length} records left`,
        );
      }
      ctx.progress(0, step.maxIterations);
      const x = gatherRows(vectors, alive, dims);
      const r = await clusterRows(x, dims, step.k, step.seed, step.maxIterations, step.sampleSize, step.tolerance);
      const labels = new Int32Array(state.ids.length).fill(-1);
      const similarity = new Float32Array(state.ids.length);
      alive.forEach((rec, row) => {
        labels[rec] = r.labels[row] as number;
        similarity[rec] = r.similarity[row] as number;
      });
      state.clustering = { k: step.k, labels, centroids: r.centroids, similarity };
      ctx.progress(step.maxIterations, step.maxIterations);
      return {
        clusterSizes: clusterSizeHistogram(r.labels, step.k),
        facts: { objective: r.objective, iterations: r.iterations },
      };
    }
    case 'sem-dedup': {
      const input = clusteredAlive(state, alive);
      const r = semDedup(input, {
        eps: step.eps,
        sweepEps: step.reportEps,
        keep: step.keep,
        comparison: step.comparison,
        seed: step.seed,
        blockRows: step.blockRows,
      });
      alive.forEach((rec, row) => {
        if (r.kept[row]) return;
        const dup = r.duplicateOf[row] as number;
        drop(state, rec, {
          stage: step.name,
          reason: 'semantic-duplicate',
          cluster: input.labels[row] as number,
          score: r.similarity[row] as number,
          ...(dup >= 0 ? { duplicateOf: alive[dup] as number } : {}),
        });
      });
      return {
        epsSweep: r.sweep.map((p) => ({ eps: p.eps, wouldDrop: p.removed })),
        facts: { eps: step.eps, removed: r.removed },
      };
    }
    case 'ssl-prototypes': {
      const input = clusteredAlive(state, alive);
      const r = sslPrototypes(input, { keepFraction: step.keepFraction, drop: step.drop });
      alive.forEach((rec, row) => {
        if (r.kept[row]) return;
        drop(state, rec, {
          stage: step.name,
          reason: step.drop === 'hardest' ? 'too-hard' : 'prototypical',
          cluster: input.labels[row] as number,
          score: r.scores[row] as number,
        });
      });
      return { facts: { keepCount: r.keepCount } };
    }
    case 'd4': {
      const input = clusteredAlive(state, alive);
      const r = await d4(
        input,
        {
          dedupRatio: step.dedupRatio,
          keepRatio: step.keepRatio,
          reclusterK: step.recluster.k,
          seed: step.recluster.seed,
          dedupKeep: step.dedupKeep,
          prototypeDrop: step.prototypeDrop,
        },
        (x, d, k, seed) => clusterRows(x, d, k, seed, step.recluster.maxIterations),
      );
      alive.forEach((rec, row) => {
        if (r.kept[row]) return;
        const reason = r.reason[row];
        const dup = r.duplicateOf[row] as number;
        drop(state, rec, {
          stage: `${step.name}/${r.stage[row]}`,
          reason:
            reason === 'semantic-duplicate'
              ? 'semantic-duplicate'
              : reason === 'too-hard'
                ? 'too-hard'
                : 'prototypical',
          cluster: input.labels[row] as number,
          score: reason === 'semantic-duplicate' ? (r.maxSimilarity[row] as number) : (r.prototypeScore[row] as number),
          ...(dup >= 0 ? { duplicateOf: alive[dup] as number } : {}),
        });
      });
      return {
        clusterSizes: clusterSizeHistogram(r.recluster.labels, r.recluster.k),
        facts: { dedupKeepCount: r.dedupKeepCount, dedupCutoff: r.dedupCutoff, keepCount: r.keepCount },
      };
    }
    case 'density-pruning': {
      const input = clusteredAlive(state, alive);
      const r = densityPruning(input, {
        ...(step.keepCount
          ? { keepCount: Math.min(step.keepCount, alive.length) }
          : { keepFraction: step.keepFraction }),
        temperature: step.temperature,
        nearestCentroids: step.nearestCentroids,
        minQuotaFactor: step.minQuotaFactor,
      });
      alive.forEach((rec, row) => {
        if (r.kept[row]) return;
        drop(state, rec, {
          stage: step.name,
          reason: 'density-quota',
          cluster: input.labels[row] as number,
          score: r.centroidDistance[row] as number,
        });
      });
      return { facts: { budget: r.budget, minQuota: r.minQuota, quotas: Array.from(r.quotas) } };
    }
  }
}

function requireEmbeddings(state: PipelineState) {
  if (!state.embeddings) throw new Error('no embeddings: an embed step must run first');
  return state.embeddings;
}

/** The alive rows' embeddings with their labels under the latest clustering. */
function clusteredAlive(state: PipelineState, alive: Int32Array) {
  const { vectors, dims } = requireEmbeddings(state);
  const c = state.clustering;
  if (!c) throw new Error('no clustering: a kmeans step must run first');
  return {
    embeddings: gatherRows(vectors, alive, dims),
    dims,
    labels: Int32Array.from(alive, (i) => c.labels[i] as number),
    centroids: c.centroids,
  };
}
