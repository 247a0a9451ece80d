import type { pruningV1 } from '@sift/contracts';
import {
  decoderFeeds,
  type GraphSession,
  predictedBytes,
  runOutputs,
  scoreText,
  type TextCodec,
} from '@sift/inference';
import { SiftError } from '@sift/kit';
import { externalByteCount } from '../adapters/onnx-external-data.js';
import type { OnnxModel } from '../adapters/onnx-graph.js';
import { openJobSession, type PruningRuntime } from './analysis.js';
import { sequenceLength } from './decoder-model.js';
import { checkCorpus } from './text-corpus.js';

/**
 * Most timed forward passes per model: p50 and p95 are steady long before this, and the runs are out of
 * reach of the job's progress, so an unbounded count (the field is a uint32) held the worker for days.
 */
export const maxLatencyRuns = 1000;

/**
 * Sequence length and latency runs of an evaluation (the calibration's length when it names none); throws
 * invalid_argument naming `field.latency_runs` beyond {@link maxLatencyRuns}.
 */
export function evaluationSettings(
  evaluation: pruningV1.EvaluationSpec | undefined,
  calibration: pruningV1.CalibrationSpec | undefined,
  contextLength: number,
  field: string,
): { sequenceLength: number; latencyRuns: number } {
  const requested = evaluation?.sequenceLength || calibration?.sequenceLength || 0;
  const latencyRuns = evaluation?.latencyRuns || 20;
  if (latencyRuns > maxLatencyRuns) {
    throw new SiftError(
      'invalid_argument',
      `${field}.latency_runs ${latencyRuns} exceeds ${maxLatencyRuns}; 0 means 20, which is enough for p50 and p95`,
    );
  }
  return { sequenceLength: sequenceLength(requested, contextLength, `${field}.sequence_length`), latencyRuns };
}

/**
 * Fewest bytes an evaluation must predict: below this, "bits per byte before and after" is a figure about
 * a handful of characters, not about the model. Checked at submit for inline texts, and again on the texts
 * a dataset yields.
 */
export const minEvaluationBytes = 64;

/** Checks an evaluation spec before any work: its texts (inline ones fully) and its sequence length. */
export async function checkEvaluation(
  evaluation: pruningV1.EvaluationSpec | undefined,
  calibration: pruningV1.CalibrationSpec | undefined,
  decoder: { contextLength: number; codec: TextCodec },
  field: string,
): Promise<void> {
  await checkCorpus(evaluation?.texts, `${field}.texts`);
  const settings = evaluationSettings(evaluation, calibration, decoder.contextLength, field);
  const source = evaluation?.texts?.source;
  if (source?.$case === 'inline') {
    checkEvaluationTexts(source.value.texts, settings.sequenceLength, decoder.codec, `${field}.texts`);
  }
}

/** INVALID_ARGUMENT when `texts` give fewer than {@link minEvaluationBytes} bytes to predict. */
export function checkEvaluationTexts(
  texts: readonly string[],
  sequenceLength: number,
  codec: TextCodec,
  field: string,
): void {
  const predicted = predictedBytes(texts, sequenceLength, codec);
  if (predicted < minEvaluationBytes) {
    throw new SiftError(
      'invalid_argument',
      `${field}: the evaluation texts give ${predicted} bytes to predict; at least ${minEvaluationBytes} are needed for a meaningful bits-per-byte figure`,
    );
  }
}

/** Parameters in the graph's initializers. */
export function parameterCount(model: OnnxModel): number {
  let n = 0;
  for (const init of model.graph?.initializer ?? []) n += (init.dims ?? []).reduce((p: number, d) => p * Number(d), 1);
  return n;
}

/**
 * Loads the graph in ONNX Runtime and runs one short input: the pruned model must load and give finite
 * logits of the vocabulary's width before it is stored. internal names what went wrong.
 */
export async function validateRuns(bytes: Uint8Array, runtime: PruningRuntime, codec: TextCodec): Promise<void> {
  let session: GraphSession;
  try {
    session = await openJobSession(bytes, runtime);
  } catch (err) {
    throw new SiftError('internal', `the pruned graph does not load in ONNX Runtime: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const { ids } = codec.encode('The pruned model runs.');
    const out = await runOutputs(session, decoderFeeds(session, [ids], codec.padId), ['logits']);
    const logits = out.logits;
    if (logits?.dims.at(-1) !== codec.vocabSize) {
      throw new SiftError(
        'internal',
        `the pruned graph gives logits of shape [${logits?.dims.join(', ')}], not ${codec.vocabSize} wide`,
      );
    }
    if (!(logits.data as Float32Array).every(Number.isFinite)) {
      throw new SiftError('internal', 'the pruned graph gives non-finite logits');
    }
  } finally {
    await session.release();
  }
}

/**
 * Held-out figures of one model variant: bits per byte, perplexity, latency, size, parameters, layers.
 * `onProgress` counts the scored windows and then the timed runs (one total for both), after every model
 * call: it is how a job notices a cancel (the job's tick reads the request and aborts `signal`), so a
 * caller that passes none cannot be cancelled while this runs.
 */
export async function modelMetrics(
  bytes: Uint8Array,
  model: OnnxModel,
  layerCount: number,
  texts: readonly string[],
  opts: {
    codec: TextCodec;
    sequenceLength: number;
    latencyRuns: number;
    runtime: PruningRuntime;
    signal: AbortSignal;
    onProgress: (done: number, total: number) => void;
  },
): Promise<pruningV1.ModelMetrics> {
  const session = await openJobSession(bytes, opts.runtime);
  try {
    const runs = opts.latencyRuns + 2;
    let windows = 0;
    const score = await scoreText(session, texts, {
      contextLength: opts.sequenceLength,
      codec: opts.codec,
      batchSize: 8,
      signal: opts.signal,
      onProgress: (done, total) => {
        windows = total;
        opts.onProgress(done, total + runs);
      },
    });
    // Latency of one sequence at the evaluation length, after two warm-up passes.
    const sample = opts.codec.encode(texts.join('\n')).ids;
    const ids = Int32Array.from({ length: opts.sequenceLength }, (_, t) => sample[t % sample.length] as number);
    const feeds = decoderFeeds(session, [ids], opts.codec.padId);
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      opts.signal.throwIfAborted();
      const started = performance.now();
      await session.run(feeds);
      if (r >= 2) times.push(performance.now() - started);
      opts.onProgress(windows + r + 1, windows + runs);
    }
    times.sort((a, b) => a - b);
    const pick = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
    return {
      bitsPerByte: score.bitsPerByte,
      perplexity: score.perplexity,
      latencyMsP50: pick(0.5),
      latencyMsP95: pick(0.95),
      fileSizeBytes: bytes.length + externalByteCount(model),
      parameterCount: parameterCount(model),
      layerCount,
    };
  } finally {
    await session.release();
  }
}
