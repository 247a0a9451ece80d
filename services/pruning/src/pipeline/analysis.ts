import { commonV1, pruningV1 } from '@sift/contracts';
import { type GraphSession, openSession, type ProviderPreference, type WorkerSessionOptions } from '@sift/inference';
import { type Logger, SiftError } from '@sift/kit';
import { type ExternalWeights, withGraphFile } from '../adapters/onnx-external-data.js';
import { encodeOnnxModel, exposeOutputs } from '../adapters/onnx-graph.js';
import {
  angularDistanceMatrix,
  type BlockDistanceOptions,
  type BlockDistances,
  bestBlocks,
  blockInfluenceMatrix,
} from '../domain/angular-distance.js';
import { captureResidualStream, forEachTokenBatch, tokenSequences } from './calibration.js';
import { type DecoderModel, residualStreamTensors, sequenceLength } from './decoder-model.js';
import { checkCorpus, loadCorpus } from './text-corpus.js';

/** Options shared by every ONNX Runtime session of a job. */
export function sessionOptions(threads: number): WorkerSessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
}

/** How a job opens its ONNX Runtime sessions: intra-op threads, and the provider (CUDA falls back to CPU). */
export interface PruningRuntime {
  readonly threads: number;
  readonly provider: ProviderPreference;
  readonly logger: Logger;
  /**
   * Where the job's graphs find weights stored outside them: every graph a job builds derives from its
   * source model, so its external tensors point into the source's data files (undefined: none).
   */
  readonly externalWeights?: ExternalWeights | undefined;
}

/** A session for a graph a job built (a copy with exposed outputs, a pruned model) on the job's runtime. */
export async function openJobSession(bytes: Uint8Array, runtime: PruningRuntime): Promise<GraphSession> {
  // On a worker thread: a forward pass over a calibration batch takes long enough to stall the service's
  // gRPC calls (job status, health) if it ran on the event loop.
  const open = async (source: string | Uint8Array) =>
    (await openSession(source, sessionOptions(runtime.threads), runtime.provider, runtime.logger, 'worker')).session;
  // ONNX Runtime finds external data beside a graph file only (from bytes it looks in the working directory).
  return runtime.externalWeights ? withGraphFile(bytes, runtime.externalWeights, open) : open(bytes);
}

/** What an analysis produced. */
export interface AnalysisRun {
  readonly result: pruningV1.AnalysisResult;
  readonly distances: BlockDistances;
}

/** Most sequences per calibration forward pass (the contract's limit). */
const maxCalibrationBatch = 256;

/** Checks a calibration spec against the model before any work (the texts are not read); its settings. */
export async function checkCalibration(
  spec: pruningV1.CalibrationSpec | undefined,
  contextLength: number,
  field: string,
): Promise<{ sequenceLength: number; batchSize: number }> {
  await checkCorpus(spec?.texts, `${field}.texts`);
  const seq = sequenceLength(spec?.sequenceLength ?? 0, contextLength, `${field}.sequence_length`);
  const batchSize = spec?.batchSize || 8;
  if (batchSize > maxCalibrationBatch) {
    throw new SiftError(
      'invalid_argument',
      `${field}.batch_size ${batchSize} exceeds ${maxCalibrationBatch}: a batch's activations at every captured ` +
        'boundary are held at once',
    );
  }
  return { sequenceLength: seq, batchSize };
}

/** The calibration settings and texts (read from the dataset when the texts are a file). */
export async function loadCalibration(
  spec: pruningV1.CalibrationSpec | undefined,
  contextLength: number,
  field: string,
) {
  const settings = await checkCalibration(spec, contextLength, field);
  return { ...settings, texts: await loadCorpus(spec?.texts, `${field}.texts`) };
}

/**
 * Captures the residual stream on the calibration texts and measures every block (Gromov et al. 2024 angular
 * distance on the final token, or ShortGPT block influence on all tokens); l*(n) is the argmin per n.
 */
export async function analyseBlocks(
  decoder: DecoderModel,
  spec: pruningV1.AnalysisSpec,
  runtime: PruningRuntime,
  onBatch: (done: number, total: number) => void,
): Promise<AnalysisRun> {
  const L = decoder.layerCount;
  const calibration = await loadCalibration(spec.calibration, decoder.contextLength, 'calibration');
  const maxBlockSize = spec.maxBlockSize || L - 1;
  if (maxBlockSize > L - 1) {
    throw new SiftError('invalid_argument', `max_block_size ${maxBlockSize} must be below the layer count ${L}`);
  }
  const { tensors, source, exposed } = residualStreamTensors(decoder, spec.calibration?.residualStreamPattern ?? '');
  const metric =
    spec.metric === pruningV1.DistanceMetric.DISTANCE_METRIC_BLOCK_INFLUENCE_ALL_TOKENS
      ? pruningV1.DistanceMetric.DISTANCE_METRIC_BLOCK_INFLUENCE_ALL_TOKENS
      : pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN;
  const bytes = exposed ? encodeOnnxModel(exposeOutputs(decoder.graph, tensors)) : decoder.bytes;
  const sequences = tokenSequences(calibration.texts, calibration.sequenceLength, decoder.codec);
  const options = { maxBlockSize, finalLayer: 'mask' as const };
  const session = await openJobSession(bytes, runtime);
  let distances: BlockDistances;
  try {
    if (metric === pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN) {
      // Final tokens only: texts × (L + 1) × d floats, whatever the sequence length.
      const captured = await captureResidualStream(
        session,
        tensors,
        sequences,
        decoder.codec.padId,
        calibration.batchSize,
        onBatch,
        'last-token',
      );
      distances = angularDistanceMatrix(
        { states: captured.lastToken, rows: captured.texts, dim: captured.dim },
        options,
      );
    } else {
      distances = await streamedBlockInfluence(
        session,
        tensors,
        sequences,
        decoder.codec.padId,
        calibration.batchSize,
        options,
        onBatch,
      );
    }
  } finally {
    await session.release();
  }
  const tokens = sequences.reduce((n, q) => n + q.length, 0);
  const result: pruningV1.AnalysisResult = {
    model: { name: decoder.stored.name, version: decoder.stored.version },
    layerCount: L,
    metric,
    distances: {
      dims: [distances.layerCount, distances.maxBlockSize],
      dtype: commonV1.DataType.DATA_TYPE_FLOAT32,
      data: Buffer.from(distances.values.buffer, distances.values.byteOffset, distances.values.byteLength),
    },
    bestBlocks: bestBlocks(distances).map((b) => ({ ...b })),
    samples: sequences.length,
    tokens,
    residualStreamSource: source,
    jsonReportPath: '',
    markdownReportPath: '',
    heatmapPath: '',
    sourceMetrics: undefined,
    blockEvaluations: [],
  };
  return { result, distances };
}

/**
 * Block influence over all tokens without holding them: each batch's per-block means, weighted by its
 * token count, summed in float64 (the mean over all tokens, up to rounding).
 */
async function streamedBlockInfluence(
  session: GraphSession,
  tensors: readonly string[],
  sequences: readonly Int32Array[],
  padId: number,
  batchSize: number,
  options: BlockDistanceOptions,
  onBatch: (done: number, total: number) => void,
): Promise<BlockDistances> {
  let sums: Float64Array | undefined;
  let shape = { layerCount: 0, maxBlockSize: 0 };
  let tokens = 0;
  await forEachTokenBatch(
    session,
    tensors,
    sequences,
    padId,
    batchSize,
    (batch) => {
      const m = blockInfluenceMatrix({ states: batch.rows, rows: batch.count, dim: batch.dim }, options);
      shape = { layerCount: m.layerCount, maxBlockSize: m.maxBlockSize };
      sums ??= new Float64Array(m.values.length);
      for (let i = 0; i < m.values.length; i++) sums[i]! += m.values[i]! * batch.count;
      tokens += batch.count;
      return true;
    },
    onBatch,
  );
  return { ...shape, values: Float32Array.from(sums ?? [], (v) => v / tokens) };
}
