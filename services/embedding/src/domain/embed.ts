import type { EncodedInput } from '@sift/featurizers';
import { SiftError } from '@sift/kit/errors';
import { TimeSlicer } from '@sift/kit/time-slicer';
import type { Encoder, EncoderRegistry } from '../ports.js';
import { finishRows } from './vectors.js';

/** An embedding request after protobuf decoding. */
export interface EmbedCommand {
  modelName: string;
  modelVersion: string;
  inputs: string[];
  normalize: boolean;
  /** 0 keeps every dimension. */
  dimensions: number;
  rejectLongInputs: boolean;
}

/** Limits that protect the service; from config. */
export interface EmbedLimits {
  /** Most inputs in one call. */
  maxInputsPerCall: number;
  /** Longest single input in characters, checked before featurizing. */
  maxInputChars: number;
  /** Model used when the request names none. */
  defaultModel: string;
}

export interface EmbedOutcome {
  model: { name: string; version: string };
  /** [inputs, dims] row-major. */
  vectors: Float32Array;
  dims: number;
  tokenCounts: number[];
  /** Tokens the model read per input; 0 leaves a zero vector. */
  fedTokens: number[];
  truncated: boolean[];
  maxInputTokens: number;
  queueMs: number;
  computeMs: number;
}

/**
 * Validates a request against the limits and the model, featurizes, runs the encoder and applies
 * Matryoshka truncation and normalisation. Errors name the field so the caller can fix the request.
 */
export async function embed(
  cmd: EmbedCommand,
  registry: EncoderRegistry,
  limits: EmbedLimits,
  signal: AbortSignal,
): Promise<EmbedOutcome> {
  if (cmd.inputs.length === 0) throw new SiftError('invalid_argument', 'inputs: at least one input is required');
  if (cmd.inputs.length > limits.maxInputsPerCall) {
    throw new SiftError(
      'invalid_argument',
      `inputs: ${cmd.inputs.length} inputs exceed the limit of ${limits.maxInputsPerCall} per call; split them over several calls`,
    );
  }
  cmd.inputs.forEach((text, i) => {
    if (text.trim() === '') {
      throw new SiftError(
        'invalid_argument',
        `inputs[${i}] is ${text === '' ? 'empty' : 'only whitespace'}: there is no text to embed`,
      );
    }
    // UTF-16 units bound the characters from above, so only a long input pays for counting code points.
    const chars = text.length > limits.maxInputChars ? codePoints(text) : text.length;
    if (chars > limits.maxInputChars) {
      throw new SiftError(
        'invalid_argument',
        `inputs[${i}] has ${chars} characters; the limit is ${limits.maxInputChars}`,
      );
    }
  });
  const encoder = await registry.get(cmd.modelName || limits.defaultModel, cmd.modelVersion);
  const { info } = encoder;
  const keep = cmd.dimensions === 0 ? info.dimensions : cmd.dimensions;
  if (keep > info.dimensions) {
    throw new SiftError(
      'invalid_argument',
      `dimensions: ${cmd.dimensions} exceeds the ${info.dimensions} dimensions of ${info.name}/${info.version}`,
    );
  }
  if (keep < info.dimensions && !info.matryoshka) {
    throw new SiftError(
      'invalid_argument',
      `dimensions: ${info.name}/${info.version} was not trained for Matryoshka truncation; omit dimensions or choose a model that lists matryoshka`,
    );
  }
  const encoded = await encodeAll(encoder, cmd.inputs, signal);
  if (cmd.rejectLongInputs) {
    const i = encoded.findIndex((e) => e.truncated);
    if (i >= 0) {
      throw new SiftError(
        'invalid_argument',
        `inputs[${i}] has ${encoded[i]?.tokenCount} tokens; ${info.name} accepts at most ${info.maxInputTokens} (reject_long_inputs is set)`,
      );
    }
  }
  const result = await encoder.embed(encoded, signal);
  return {
    model: { name: info.name, version: info.version },
    vectors: finishRows(result.vectors, info.dimensions, keep, cmd.normalize),
    dims: keep,
    tokenCounts: encoded.map((e) => e.tokenCount),
    fedTokens: encoded.map((e) => e.fedTokens),
    truncated: encoded.map((e) => e.truncated),
    maxInputTokens: info.maxInputTokens,
    queueMs: result.queueMs,
    computeMs: result.computeMs,
  };
}

/**
 * Longest stretch of featurizing before other calls get a turn of the event loop. Tokenizing runs at
 * 2.5-20 MB/s here (WordPiece 3 MB/s), so a 16 MB request would otherwise hold every other caller, deadline
 * and health check for seconds.
 */
const encodeSliceMs = 5;

/** Featurizes the inputs in slices of at most {@link encodeSliceMs}, stopping if the call is cancelled. */
async function encodeAll(encoder: Encoder, inputs: readonly string[], signal: AbortSignal): Promise<EncodedInput[]> {
  const encoded: EncodedInput[] = [];
  const slicer = new TimeSlicer(encodeSliceMs);
  for (const text of inputs) {
    encoded.push(encoder.encode(text));
    if (slicer.due()) {
      await slicer.pause();
      signal.throwIfAborted();
    }
  }
  return encoded;
}

/** Characters of `text` as Unicode code points (a surrogate pair is one character). */
function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
