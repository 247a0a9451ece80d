import { echoed, SiftError } from '@sift/kit';
import {
  type AssignKernel,
  gatherRows,
  type KMeansResult,
  sampleIndices,
  seededRandom,
  sphericalKMeans,
} from '@sift/numeric';
import { loadExactIndex, loadMinHashIndex, saveExactIndex, saveMinHashIndex } from '../adapters/dedup-index-files.js';
import type { SelectionKernels } from '../adapters/onnx-kernels.js';
import {
  clusterPlacement,
  codeTokenCount,
  corruptCode,
  corruptionKinds,
  corruptionShift,
  d4,
  densityPruning,
  exactDedupSteps,
  exactIndexOf,
  longFilePruning,
  minHashDedupSteps,
  minHashIndexOf,
  qualityFilters,
  scipDropReason,
  scipPrune,
  semDedup,
  sslPrototypes,
  textQuality,
} from '../domain/index.js';
import type { LanguageModelScorer, TextEmbedder } from '../ports.js';
import { runCooperatively } from './cooperative.js';
import { clusterSizeHistogram, type StageSummary } from './report.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from './state.js';
import type { KMeansParams, ResolvedStep } from './steps.js';

/** What a stage needs besides the state. */
export interface StageContext {
  embedder: TextEmbedder;
  /** Byte-level language models, for text-quality weights. */
  languageModels?: LanguageModelScorer;
  /** ONNX Runtime kernels for clustering and SemDeDup. */
  kernels: SelectionKernels;
  progress: (done: number, total: number) => void;
  signal: AbortSignal;
}

type StageFacts = Pick<StageSummary, 'clusterSizes' | 'epsSweep' | 'facts'>;

/**
 * Records the drops of a dedup step: a row whose duplicate is another row of this dataset
 * (`duplicateOf` >= 0) gets `reason` and that row; one matched in a loaded index (-2) is an
 * indexed-duplicate with the indexed record's id.
 */
function dropDuplicates(
  state: PipelineState,
  alive: Int32Array,
  r: { kept: Uint8Array; duplicateOf: Int32Array; indexedDuplicateOf: readonly (string | undefined)[] },
  stage: string,
  reason: 'exact-duplicate' | 'near-duplicate',
  scores?: ArrayLike<number>,
): void {
  alive.forEach((rec, row) => {
    if (r.kept[row]) return;
    const dup = r.duplicateOf[row] as number;
    drop(state, rec, {
      stage,
      reason: dup === -2 ? 'indexed-duplicate' : reason,
      ...(scores ? { score: scores[row] as number } : {}),
      ...(dup >= 0 ? { duplicateOf: alive[dup] as number } : { indexedDuplicateOf: r.indexedDuplicateOf[row] ?? '' }),
    });
  });
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

/**
 * Runs one step on the alive records and records drops with their reasons. Steps see only the records
 * earlier steps kept; embedding-space steps use the latest clustering restricted to those records.
 */
export async function runStage(step: ResolvedStep, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  const alive = aliveIndices(state);
  switch (step.kind) {
    case 'exact-dedup': {
      const texts = Array.from(alive, (i) => state.texts[i] as string);
      const ids = Array.from(alive, (i) => state.ids[i] as string);
      const index = step.index.load.length > 0 ? await loadExactIndex(step.index.load) : undefined;
      const r = await runCooperatively(
        exactDedupSteps(texts, {
          normalization: step.normalization,
          keep: step.keep,
          ids,
          ...(index ? { index } : {}),
        }),
        ctx.progress,
      );
      dropDuplicates(state, alive, r, step.name, 'exact-duplicate');
      if (step.index.save) await saveExactIndex(step.index.save, exactIndexOf(r, ids));
      return { facts: { removed: r.removed, indexSaved: step.index.save || undefined } };
    }
    case 'minhash-dedup': {
      const texts = Array.from(alive, (i) => state.texts[i] as string);
      const ids = Array.from(alive, (i) => state.ids[i] as string);
      const index = step.index.load.length > 0 ? await loadMinHashIndex(step.index.load) : undefined;
      const r = await runCooperatively(
        minHashDedupSteps(texts, {
          normalization: step.normalization,
          shingleUnit: step.shingleUnit,
          ngramSize: step.ngramSize,
          numPermutations: step.numPermutations,
          seed: step.seed,
          threshold: step.threshold,
          ...(step.bands ? { bands: step.bands } : {}),
          verifyCandidates: step.verifyCandidates,
          keep: step.keep,
          ids,
          ...(index ? { index } : {}),
        }),
        ctx.progress,
      );
      dropDuplicates(state, alive, r, step.name, 'near-duplicate', r.jaccard);
      if (step.index.save) await saveMinHashIndex(step.index.save, minHashIndexOf(r, ids));
      return {
        facts: {
          bands: r.bands,
          rows: r.rows,
          candidatePairs: r.candidatePairs,
          indexSaved: step.index.save || undefined,
        },
      };
    }
    case 'embed': {
      const texts = Array.from(alive, (i) => state.texts[i] as string);
      const r = await ctx.embedder.embed(
        texts,
        { model: step.model, version: step.version, dimensions: step.dimensions, batchSize: step.batchSize },
        (done) => ctx.progress(done, texts.length),
        ctx.signal,
      );
      checkFinite(r.vectors, r.dims, alive, state.ids, `${r.model.name}@${r.model.version}`);
      // Rows of records dropped before this step stay zero: no later step reads them.
      const vectors = new Float32Array(state.ids.length * r.dims);
      alive.forEach((rec, row) => {
        vectors.set(r.vectors.subarray(row * r.dims, (row + 1) * r.dims), rec * r.dims);
      });
      state.embeddings = { vectors, dims: r.dims, model: `${r.model.name}@${r.model.version}` };
      state.clustering = undefined;
      // Records the encoder could read nothing of have zero vectors, which no embedding-space step can place
      // (cosine to them is undefined): they are dropped here, or kept aside by those steps.
      const unreadable = alive.filter((rec) => isZeroRow(vectors, rec, r.dims));
      if (step.unreadable === 'drop') {
        for (const rec of unreadable) drop(state, rec, { stage: step.name, reason: 'unreadable' });
      }
      return {
        facts: {
          model: state.embeddings.model,
          dims: r.dims,
          unreadable: unreadable.length,
          ...(unreadable.length > 0 ? { unreadablePolicy: step.unreadable } : {}),
        },
      };
    }
    case 'kmeans': {
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
    case 'sem-dedup': {
      const input = clusteredAlive(state, alive);
      const r = await semDedup(input, {
        eps: step.eps,
        sweepEps: step.reportEps,
        keep: step.keep,
        comparison: step.comparison,
        seed: step.seed,
        blockRows: step.blockRows,
        product: ctx.kernels.tileProduct,
        signal: ctx.signal,
        onProgress: ctx.progress,
      });
      input.records.forEach((rec, row) => {
        if (r.kept[row]) {
          scoreKept(state, rec, step.name, r.similarity[row] as number);
          return;
        }
        const dup = r.duplicateOf[row] as number;
        drop(state, rec, {
          stage: step.name,
          reason: 'semantic-duplicate',
          cluster: input.labels[row] as number,
          score: r.similarity[row] as number,
          ...(dup >= 0 ? { duplicateOf: input.records[dup] as number } : {}),
        });
      });
      return {
        epsSweep: r.sweep.map((p) => ({ eps: p.eps, wouldDrop: p.removed })),
        facts: { eps: step.eps, removed: r.removed, ...keptAside(input.unplaced) },
      };
    }
    case 'ssl-prototypes': {
      const input = clusteredAlive(state, alive);
      const r = sslPrototypes(input, { keepFraction: step.keepFraction, drop: step.drop });
      input.records.forEach((rec, row) => {
        if (r.kept[row]) {
          scoreKept(state, rec, step.name, r.scores[row] as number);
          return;
        }
        drop(state, rec, {
          stage: step.name,
          reason: step.drop === 'hardest' ? 'too-hard' : 'prototypical',
          cluster: input.labels[row] as number,
          score: r.scores[row] as number,
        });
      });
      return { facts: { keepCount: r.keepCount, ...keptAside(input.unplaced) } };
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
          product: ctx.kernels.tileProduct,
        },
        (x, d, k, seed) =>
          clusterRows(x, d, { ...step.recluster, k, seed }, { assign: ctx.kernels.assign, signal: ctx.signal }),
      );
      input.records.forEach((rec, row) => {
        if (r.kept[row]) {
          scoreKept(state, rec, `${step.name}/ssl-prototypes`, r.prototypeScore[row] as number);
          return;
        }
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
          ...(dup >= 0 ? { duplicateOf: input.records[dup] as number } : {}),
        });
      });
      return {
        clusterSizes: clusterSizeHistogram(r.recluster.labels, r.recluster.k),
        facts: {
          dedupKeepCount: r.dedupKeepCount,
          dedupCutoff: r.dedupCutoff,
          keepCount: r.keepCount,
          ...keptAside(input.unplaced),
        },
      };
    }
    case 'long-file-pruning': {
      const counts = Int32Array.from(alive, (i) =>
        step.tokenizer === 'utf8-bytes'
          ? Buffer.byteLength(state.texts[i] as string)
          : codeTokenCount(state.texts[i] as string),
      );
      const r = longFilePruning(
        counts,
        step.tokenShare ? { tokenShare: step.tokenShare } : { maxTokens: step.maxTokens },
      );
      alive.forEach((rec, row) => {
        if (r.kept[row]) scoreKept(state, rec, step.name, counts[row] as number);
        else drop(state, rec, { stage: step.name, reason: 'long-file', score: counts[row] as number });
      });
      return {
        facts: {
          totalTokens: r.totalTokens,
          removedTokens: r.removedTokens,
          removedShare: r.removedShare,
          threshold: r.threshold,
        },
      };
    }
    case 'scip': {
      const input = clusteredAlive(state, alive);
      const r = scipPrune(input, { pruneFraction: step.pruneFraction, smallClusterShare: step.smallClusterShare });
      input.records.forEach((rec, row) => {
        const reason = scipDropReason(r, row);
        if (!reason) {
          scoreKept(state, rec, step.name, r.score[row] as number);
          return;
        }
        drop(state, rec, {
          stage: step.name,
          reason,
          cluster: input.labels[row] as number,
          score: r.score[row] as number,
        });
      });
      const report = step.corruptionReport ? await corruptionReport(state, input, step, ctx) : undefined;
      return {
        facts: {
          budget: r.budget,
          droppedClusters: r.droppedClusters.length,
          ...keptAside(input.unplaced),
          ...(report ? { corruption: report } : {}),
        },
      };
    }
    case 'text-quality': {
      if (!ctx.languageModels)
        throw new SiftError('unavailable', 'text-quality needs the model store (SIFT_MODELS_DIR)');
      const models = ctx.languageModels;
      const texts = Array.from(alive, (i) => state.texts[i] as string);
      const filters = qualityFilters(step.filters);
      // The weights take one perplexity per filter plus one over all sample lines: progress counts those
      // calls, then the documents scored (the job's ETA restarts when the total changes).
      let calls = 0;
      ctx.progress(0, filters.length + 1);
      const r = await textQuality(texts, {
        keepFraction: step.keepFraction,
        filters,
        weightSampleSize: step.weightSampleSize,
        seed: step.seed,
        perplexity: async (lines) => {
          const ppl = await models.perplexity(
            { name: step.model, version: step.version },
            [lines.join('\n')],
            ctx.signal,
          );
          ctx.progress(++calls, filters.length + 1);
          return ppl;
        },
        runSteps: (steps) => runCooperatively(steps, ctx.progress),
      });
      alive.forEach((rec, row) => {
        const score = r.docScores[row] as number;
        if (r.kept[row]) scoreKept(state, rec, step.name, score);
        else drop(state, rec, { stage: step.name, reason: 'low-quality', score });
      });
      return {
        facts: {
          model: step.model,
          pplAll: r.pplAll,
          weights: Object.fromEntries(r.filters.map((f, i) => [f, { weight: r.weights[i], ppl: r.pplPerFilter[i] }])),
          fallbackToEqualWeights: r.fallbackToEqualWeights,
        },
      };
    }
    case 'density-pruning': {
      const input = clusteredAlive(state, alive);
      const r = densityPruning(input, {
        ...(step.keepCount
          ? { keepCount: Math.min(step.keepCount, input.records.length) }
          : { keepFraction: step.keepFraction }),
        temperature: step.temperature,
        nearestCentroids: step.nearestCentroids,
        minQuotaFactor: step.minQuotaFactor,
      });
      input.records.forEach((rec, row) => {
        if (r.kept[row]) {
          scoreKept(state, rec, step.name, r.centroidDistance[row] as number);
          return;
        }
        drop(state, rec, {
          stage: step.name,
          reason: 'density-quota',
          cluster: input.labels[row] as number,
          score: r.centroidDistance[row] as number,
        });
      });
      return {
        facts: { budget: r.budget, minQuota: r.minQuota, quotas: Array.from(r.quotas), ...keptAside(input.unplaced) },
      };
    }
  }
}

/**
 * SCIP's diagnostic: corrupt a sample of the alive files (each kind in turn), embed the corrupted copies
 * with the same model, place them in the existing clustering, and summarise how far they moved from their
 * originals (cluster size, distance to centroid), per corruption kind.
 */
async function corruptionReport(
  state: PipelineState,
  input: ReturnType<typeof clusteredAlive>,
  step: Extract<ResolvedStep, { kind: 'scip' }>,
  ctx: StageContext,
) {
  const random = seededRandom(step.seed);
  const rows = sampleIndices(input.records.length, step.corruptionSamples, random);
  const originals: number[] = [];
  const corrupted: string[] = [];
  const kinds: string[] = [];
  rows.forEach((row, j) => {
    const kind = corruptionKinds[j % corruptionKinds.length] as (typeof corruptionKinds)[number];
    const c = corruptCode(state.texts[input.records[row] as number] as string, kind, random);
    if (!c) return;
    originals.push(row);
    corrupted.push(c.text);
    kinds.push(c.kind);
  });
  if (corrupted.length === 0) return { pairs: 0, note: 'no sampled file had a corruption site' };
  const [name = '', version = ''] = (state.embeddings?.model ?? '').split('@');
  const e = await ctx.embedder.embed(
    corrupted,
    { model: name, version, dimensions: input.dims, batchSize: 256 },
    () => {},
    ctx.signal,
  );
  const k = input.centroids.length / input.dims;
  const placed = await ctx.kernels.assign(e.vectors, corrupted.length, input.dims, input.centroids, k);
  const base = clusterPlacement(input);
  const original = {
    clusterSize: originals.map((r) => base.clusterSize[r] as number),
    centroidDistance: originals.map((r) => base.centroidDistance[r] as number),
  };
  const sizes = sizesOf(input.labels, k);
  const moved = {
    clusterSize: Array.from(placed.labels, (l) => sizes[l] ?? 0),
    centroidDistance: Array.from(placed.similarity, (s) => 1 - s),
  };
  return corruptionShift(original, moved, kinds);
}

function sizesOf(labels: Int32Array, k: number): Int32Array {
  const sizes = new Int32Array(k);
  for (const l of labels) sizes[l] = (sizes[l] as number) + 1;
  return sizes;
}

function requireEmbeddings(state: PipelineState) {
  if (!state.embeddings) throw new Error('no embeddings: an embed step must run first');
  return state.embeddings;
}

/**
 * Fails the stage when the encoder returned NaN or infinite values: one such row would turn its centroid,
 * and through it every clustering-based decision, into NaN without any error.
 */
function checkFinite(vectors: Float32Array, dims: number, alive: Int32Array, ids: string[], model: string): void {
  const bad: number[] = [];
  for (let row = 0; row < alive.length; row++) {
    for (let j = row * dims; j < (row + 1) * dims; j++) {
      if (!Number.isFinite(vectors[j] as number)) {
        bad.push(row);
        break;
      }
    }
  }
  if (bad.length === 0) return;
  const named = bad.slice(0, 3).map((row) => JSON.stringify(echoed(ids[alive[row] as number] ?? '')));
  throw new SiftError(
    'failed_precondition',
    `embedding model ${model} returned NaN or infinite values for ${bad.length} record(s) (ids ${named.join(', ')}${bad.length > 3 ? ', ...' : ''}); the model is broken for these inputs, so no embedding-space step can use them`,
  );
}

function isZeroRow(vectors: Float32Array, rec: number, dims: number): boolean {
  for (let j = rec * dims; j < (rec + 1) * dims; j++) if (vectors[j] !== 0) return false;
  return true;
}

/**
 * The alive records an embedding-space step works on: all but those with an all-zero vector (the model
 * read nothing of them), which it keeps aside, untouched; `unplaced` counts those.
 */
function placeable(state: PipelineState, alive: Int32Array): { records: Int32Array; unplaced: number } {
  const { vectors, dims } = requireEmbeddings(state);
  const records = alive.filter((rec) => !isZeroRow(vectors, rec, dims));
  return { records, unplaced: alive.length - records.length };
}

/** The stage fact naming the records an embedding-space step kept aside, when there were any. */
const keptAside = (unplaced: number) => (unplaced > 0 ? { keptAsideUnreadable: unplaced } : {});

/**
 * The placeable alive records (`records`; row i of the other fields is record `records[i]`), their
 * embeddings and their labels under the latest clustering.
 */
function clusteredAlive(state: PipelineState, alive: Int32Array) {
  const { vectors, dims } = requireEmbeddings(state);
  const c = state.clustering;
  if (!c) throw new Error('no clustering: a kmeans step must run first');
  const { records, unplaced } = placeable(state, alive);
  return {
    records,
    unplaced,
    embeddings: gatherRows(vectors, records, dims),
    dims,
    labels: Int32Array.from(records, (i) => c.labels[i] as number),
    centroids: c.centroids,
  };
}
