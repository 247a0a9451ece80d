import { createHash } from 'node:crypto';
import { pruningV1 } from '@sift/contracts';
import type { ModelStore } from '@sift/inference';
import type { JobCheckpoints } from '@sift/jobs';
import { SiftError } from '@sift/kit';
import { encodeOnnxModel, removeBlock } from '../adapters/onnx-graph.js';
import { type BlockDistances, bestBlock, distanceAt } from '../domain/angular-distance.js';
import { analyseBlocks, checkCalibration, type PruningRuntime } from './analysis.js';
import { distancesCodec, healedGraphCodec, pruningMetricsCodec } from './checkpoint-codecs.js';
import type { DecoderModel } from './decoder-model.js';
import {
  checkEvaluation,
  checkEvaluationTexts,
  evaluationSettings,
  modelMetrics,
  parameterCount,
  validateRuns,
} from './evaluation.js';
import { heal } from './healing.js';
import { storeModelVersion } from './model-output.js';
import { checkOutputName, prunedNameOf } from './output-name.js';
import { loadCorpus } from './text-corpus.js';

/** What a pruning run needs from the worker: progress, cancellation and the store to write to. */
/** A succeeded analysis a pruning takes its block from: its distance matrix and the metric measured. */
export interface AnalysisDistances {
  jobId: string;
  distances: BlockDistances;
  metric: pruningV1.DistanceMetric;
}

export interface PruningContext {
  readonly jobId: string;
  readonly models: ModelStore;
  readonly runtime: PruningRuntime;
  readonly signal: AbortSignal;
  /** Stage results of this job saved so far; a redelivered job reads them instead of recomputing. */
  readonly checkpoints: JobCheckpoints;
  /**
   * Enters a stage ("capture", "distances", "rewrite", "heal", "evaluate", "store"); `unit` says what its
   * ticks count (plural, e.g. "batches").
   */
  stage(name: string, unit?: string): void;
  /** Units done in the current stage; throws when the job was cancelled. */
  tick(done: number, total: number): void;
}

/** Checks the parts of a pruning spec that need the model's layer count; throws invalid_argument naming `spec.<field>`. */
export async function checkPruningSpec(
  spec: pruningV1.PruningSpec,
  decoder: Pick<DecoderModel, 'layerCount' | 'contextLength' | 'codec'>,
): Promise<void> {
  const { layerCount, contextLength } = decoder;
  const n = spec.blockSize;
  if (n < 1) throw new SiftError('invalid_argument', 'spec.block_size must be at least 1');
  if (n >= layerCount) {
    throw new SiftError('invalid_argument', `spec.block_size ${n} must be below the layer count ${layerCount}`);
  }
  if (spec.startLayer !== undefined && spec.startLayer + n > layerCount - 1) {
    throw new SiftError(
      'invalid_argument',
      `spec.start_layer ${spec.startLayer} with spec.block_size ${n}: layers ${spec.startLayer}..${spec.startLayer + n - 1} would remove the final layer ${layerCount - 1} (or go past it)`,
    );
  }
  if (healingOf(spec) !== 'none' || (spec.startLayer === undefined && !spec.analysisJobId)) {
    await checkCalibration(spec.calibration, contextLength, 'spec.calibration');
  }
  checkRidgeAlpha(spec.healing, 'spec.healing.ridge_alpha');
  if (spec.healing?.placement === pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD && spec.startLayer === 0) {
    throw new SiftError(
      'invalid_argument',
      'spec.healing.placement FOLD needs a layer before the cut to fold into; spec.start_layer 0 has none (use INSERT)',
    );
  }
  await checkEvaluation(spec.evaluation, spec.calibration, decoder, 'spec.evaluation');
}

/** A dry run of the cut at submit: a block the graph will not let go of fails the call, not the job. */
export function checkCutPossible(decoder: DecoderModel, start: number, n: number): void {
  try {
    removeBlock(decoder.graph, start, n, decoder.boundaries);
  } catch (err) {
    if (!(err instanceof SiftError) || err.kind !== 'invalid_argument') throw err;
    throw new SiftError('failed_precondition', `spec.start_layer: ${err.message}`, { cause: err });
  }
}

/** Throws invalid_argument unless the healing's ridge alpha is unset (0: the default) or finite and > 0. */
export function checkRidgeAlpha(healing: pruningV1.HealingSpec | undefined, field: string): void {
  const alpha = healing?.ridgeAlpha ?? 0;
  if (!Number.isFinite(alpha) || alpha < 0) {
    throw new SiftError(
      'invalid_argument',
      `${field} must be a finite number >= 0 (0 means the default), got ${alpha}`,
    );
  }
}

function healingOf(spec: pruningV1.PruningSpec): 'none' | 'least-squares' {
  return spec.healing?.method === pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES
    ? 'least-squares'
    : 'none';
}

/**
 * Cuts the block (l*(n) from the analysis, or the given start), optionally bridges the cut with a
 * least-squares map (ReplaceMe, Shopkhoev et al. 2025; folded into the preceding projection or inserted,
 * see `heal`), checks the result runs in ONNX Runtime, measures before/after, and stores the result as a
 * new model version. Returns the result and the distances the block was chosen from (for the report).
 */
export async function pruneModel(
  decoder: DecoderModel,
  spec: pruningV1.PruningSpec,
  analysis: AnalysisDistances | undefined,
  ctx: PruningContext,
): Promise<{ result: pruningV1.PruningResult; distances: BlockDistances | undefined }> {
  const L = decoder.layerCount;
  const n = spec.blockSize;
  const healing = healingOf(spec);
  let distances = analysis?.distances;
  if (spec.startLayer === undefined && !distances) {
    distances = await ctx.checkpoints.once('distances.json', distancesCodec(L, n), async () => {
      ctx.stage('capture', 'batches');
      const run = await analyseBlocks(
        decoder,
        {
          model: spec.model,
          calibration: spec.calibration,
          metric: pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN,
          maxBlockSize: n,
        },
        ctx.runtime,
        ctx.tick,
      );
      return run.distances;
    });
  }
  const start = spec.startLayer ?? bestBlock(distances as BlockDistances, n)?.startLayer;
  if (start === undefined) {
    throw new SiftError('failed_precondition', `the analysis has no finite distance for block size ${n}`);
  }
  const measured = distances ? distanceAt(distances, start, n) : Number.NaN;
  const distance = Number.isFinite(measured) ? measured : undefined;

  // Saved with the healed graph and the figures: a checkpoint made for another block is recomputed.
  const block = { startLayer: start, blockSize: n };

  ctx.stage('rewrite');
  // Cutting the block is cheap and deterministic: redone on resume; the healing fit is saved.
  const pruned = removeBlock(decoder.graph, start, n, decoder.boundaries);
  const unhealedBytes = encodeOnnxModel(pruned.model);
  const healed =
    healing === 'least-squares'
      ? await ctx.checkpoints.once('healed-model.bin', healedGraphCodec(block), async () => {
          const outcome = await heal(decoder, spec.calibration, spec.healing, pruned, start, n, ctx);
          return { spec: outcome.spec, bytes: encodeOnnxModel(outcome.model), model: outcome.model };
        })
      : undefined;
  const finalBytes = healed?.bytes ?? unhealedBytes;
  const finalModel = healed?.model ?? pruned.model;
  await validateRuns(finalBytes, ctx.runtime, decoder.codec);
  ctx.signal.throwIfAborted();

  const { before, afterUnhealed, afterHealed } = await ctx.checkpoints.once(
    'metrics.json',
    pruningMetricsCodec(L, block, healed !== undefined),
    async () => {
      ctx.stage('evaluate', 'model calls');
      const texts = await loadCorpus(spec.evaluation?.texts, 'evaluation.texts');
      const settings = evaluationSettings(spec.evaluation, spec.calibration, decoder.contextLength, 'evaluation');
      checkEvaluationTexts(texts, settings.sequenceLength, decoder.codec, 'evaluation.texts');
      // Progress counts scored windows over the two or three variants measured.
      const variants = healed ? 3 : 2;
      const evalOpts = (variant: number) => ({
        ...settings,
        codec: decoder.codec,
        runtime: ctx.runtime,
        signal: ctx.signal,
        onProgress: (done: number, total: number) => ctx.tick(variant * total + done, variants * total),
      });
      const before = await modelMetrics(decoder.bytes, decoder.graph, L, texts, evalOpts(0));
      const afterUnhealed = await modelMetrics(unhealedBytes, pruned.model, L - n, texts, evalOpts(1));
      const afterHealed = healed ? await modelMetrics(finalBytes, finalModel, L - n, texts, evalOpts(2)) : undefined;
      return { before, afterUnhealed, afterHealed };
    },
  );

  ctx.stage('store');
  const source = decoder.stored;
  // Checked at submit too; the store may have changed since (another job, a model copied in).
  await checkOutputName(ctx.models, spec.outputName, source);
  const healingSpec: pruningV1.HealingSpec = healed?.spec ?? {
    method: pruningV1.HealingMethod.HEALING_METHOD_NONE,
    ridgeAlpha: 0,
    maxTokens: 0,
    placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_UNSPECIFIED,
    foldedInto: '',
    addedParameters: 0,
  };
  const after = afterHealed ?? afterUnhealed;
  const stored = await storeModelVersion(
    ctx.models.root,
    spec.outputName || prunedNameOf(source.name),
    source,
    { bytes: finalBytes, model: finalModel, externalWeights: ctx.runtime.externalWeights },
    { layers: L - n, parameters: parameterCount(finalModel) },
    {
      jobId: ctx.jobId,
      source: {
        name: source.name,
        version: source.version,
        sha256: createHash('sha256').update(decoder.bytes).digest('hex'),
      },
      removedBlock: { startLayer: start, blockSize: n, distance: distance ?? null },
      analysisJobId: analysis?.jobId ?? '',
      healing: healed
        ? {
            method: healing,
            placement: healed.spec.placement === pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD ? 'fold' : 'insert',
            foldedInto: healed.spec.foldedInto || undefined,
            addedParameters: healed.spec.addedParameters,
            ridgeAlpha: healed.spec.ridgeAlpha,
            fitTokens: healed.spec.maxTokens,
          }
        : { method: 'none' },
      calibrationSha256: calibrationHash(spec),
    },
    // Named for what they are: measured on the request's evaluation texts, not on the recipe's held-out
    // set that the source's own heldOutBitsPerByte reports (the two are not comparable).
    {
      evaluationBitsPerByte: after.bitsPerByte,
      sourceEvaluationBitsPerByte: before.bitsPerByte,
    },
  );
  const result: pruningV1.PruningResult = {
    sourceModel: { name: source.name, version: source.version },
    prunedModel: { name: stored.name, version: stored.version },
    removedBlock: { blockSize: n, startLayer: start, distance },
    healing: healingSpec,
    before,
    afterUnhealed,
    afterHealed,
    analysisJobId: analysis?.jobId ?? '',
    jsonReportPath: '',
    markdownReportPath: '',
    heatmapPath: '',
    blockMetric: analysis
      ? analysis.metric || pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN
      : distances
        ? pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN
        : pruningV1.DistanceMetric.DISTANCE_METRIC_UNSPECIFIED,
  };
  return { result, distances };
}

function calibrationHash(spec: pruningV1.PruningSpec): string {
  const source = spec.calibration?.texts?.source;
  if (source?.$case !== 'inline') return '';
  const h = createHash('sha256');
  for (const t of source.value.texts) h.update(`${Buffer.byteLength(t)}:`).update(t);
  return h.digest('hex');
}
