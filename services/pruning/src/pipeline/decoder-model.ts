import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { commonV1 } from '@sift/contracts';
import {
  checkSha256,
  contextLengthOf,
  emptyCacheDims,
  graphFile,
  isDecoderInput,
  type ModelStore,
  pastKeyValuePattern,
  type StoredModel,
  type TextCodec,
  textCodecOf,
} from '@sift/inference';
import { echoed, indefiniteArticle, SiftError } from '@sift/kit';
import { checkExternalData, type ExternalWeights } from '../adapters/onnx-external-data.js';
import {
  decodeOnnxModel,
  defaultLayerPattern,
  findLayerBoundaries,
  type LayerBoundaries,
  type OnnxModel,
} from '../adapters/onnx-graph.js';

/** A decoder from the model store, decoded, with its layer boundaries found and the way it reads text. */
export interface DecoderModel {
  readonly stored: StoredModel;
  readonly bytes: Uint8Array;
  readonly graph: OnnxModel;
  readonly boundaries: LayerBoundaries;
  readonly layerCount: number;
  /** Longest input the model was trained on, in tokens (bytes for a byte model). */
  readonly contextLength: number;
  /** UTF-8 bytes, or the byte-level BPE tokenizer.json the model ships. */
  readonly codec: TextCodec;
  /** The files holding weights stored outside the graph (external data), when it has any. */
  readonly external: ExternalWeights | undefined;
}

/**
 * What a model must be for this service, checked without loading the graph: a `language-model` that reads
 * UTF-8 bytes (token id = byte value) or a byte-level BPE `tokenizer.json` (GPT-2 style), so that bits per
 * byte can be measured. Throws not_found for an unknown model and failed_precondition for any other kind.
 */
export async function resolveDecoder(store: ModelStore, ref: commonV1.ModelRef | undefined): Promise<StoredModel> {
  if (!ref?.name) throw new SiftError('invalid_argument', 'spec.model.name is required');
  const stored = await store.resolve(ref.name, ref.version);
  const m = stored.manifest;
  if (m.task !== 'language-model') {
    throw new SiftError(
      'failed_precondition',
      `model ${stored.name}/${stored.version} is ${indefiniteArticle(m.task)} "${echoed(m.task)}" model; pruning needs a decoder-only language model (task "language-model")`,
    );
  }
  const codec = await textCodecOf(stored);
  if (codec.kind === 'bytes') {
    const lm = m.languageModel as { vocabSize?: unknown } | undefined;
    for (const [field, vocabSize] of [
      ['preprocessing.vocabSize', m.preprocessing?.vocabSize],
      ['languageModel.vocabSize', lm?.vocabSize],
    ] as const) {
      if (vocabSize === undefined || vocabSize === codec.vocabSize) continue;
      throw new SiftError(
        'failed_precondition',
        `model ${stored.name}/${stored.version} has a vocabulary of ${String(vocabSize)} (${field}); a byte model is scored as token id = byte value over ${codec.vocabSize} logits, so a vocabulary with special tokens before or after the bytes is not supported`,
      );
    }
  }
  return stored;
}

/**
 * The graph's interface as the service drives it: `input_ids` (int64 [batch, sequence]), optionally
 * `attention_mask`, `position_ids` and a key/value cache `past_key_values.<i>.key|value` (float32, fed
 * empty as {@link decoderFeeds} says), nothing else; and a `logits` output whose last axis, where the graph
 * declares it, is the codec's vocabulary wide.
 */
function checkDecoderInterface(graph: OnnxModel, stored: StoredModel, codec: TextCodec): void {
  const where = `model ${stored.name}/${stored.version}`;
  const initializers = new Set((graph.graph?.initializer ?? []).map((t) => t.name));
  const declared = (graph.graph?.input ?? []).filter((i) => !initializers.has(i.name));
  const inputs = declared.map((i) => i.name ?? '');
  if (inputs.includes('use_cache_branch')) {
    throw new SiftError(
      'failed_precondition',
      `${where}: the graph takes "use_cache_branch", so it is a merged decoder (its layers live in the subgraphs of an If node, which are not rewritten here); export the decoder without merging (Optimum: --no-post-process, and use model.onnx / decoder_model.onnx)`,
    );
  }
  const unknown = inputs.filter((n) => !isDecoderInput(n));
  if (!inputs.includes('input_ids') || unknown.length > 0) {
    throw new SiftError(
      'failed_precondition',
      `${where}: graph inputs are [${inputs.join(', ')}]; the service feeds "input_ids" (int64 [batch, sequence]) and, where the graph takes them, "attention_mask", "position_ids" and an empty key/value cache "past_key_values.<layer>.key|value", so re-export the model with those inputs`,
    );
  }
  // Token inputs are fed as int64, as exporters write them, and a cache as float32 [batch, ..., past, ...]:
  // another element type or shape would fail at the first run.
  for (const input of declared) {
    const type = input.type?.tensorType?.elemType;
    const name = input.name ?? '';
    const cache = pastKeyValuePattern.test(name);
    const expected = cache ? float32Type : int64Type;
    if (type !== undefined && type !== null && type !== expected) {
      throw new SiftError(
        'failed_precondition',
        `${where}: graph input "${name}" has element type ${onnxTypeName(type)}; the service feeds ${cache ? 'a float32 cache, so re-export the model with float32 key/values' : 'int64, so re-export the model with int64 inputs'}`,
      );
    }
    if (!cache) continue;
    const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) =>
      d.dimValue === undefined || d.dimValue === null ? (d.dimParam ?? '?') : Number(d.dimValue),
    );
    try {
      emptyCacheDims(name, dims, 1);
    } catch (err) {
      throw new SiftError('failed_precondition', `${where}: ${(err as Error).message}`, { cause: err });
    }
  }
  const logits = (graph.graph?.output ?? []).find((o) => o.name === 'logits');
  if (!logits) throw new SiftError('failed_precondition', `${where}: the graph has no "logits" output`);
  const logitsType = logits.type?.tensorType?.elemType;
  if (logitsType !== undefined && logitsType !== null && logitsType !== float32Type) {
    throw new SiftError(
      'failed_precondition',
      `${where}: logits are ${onnxTypeName(logitsType)}; the service reads float32 logits and activations, so export the model in float32`,
    );
  }
  const width = logits.type?.tensorType?.shape?.dim?.at(-1)?.dimValue;
  if (width !== undefined && width !== null && Number(width) !== codec.vocabSize) {
    const expected =
      codec.kind === 'bytes'
        ? 'a byte model (token id = byte value) needs 256'
        : `its tokenizer has ${codec.vocabSize} tokens`;
    throw new SiftError('failed_precondition', `${where}: logits are ${String(width)} wide; ${expected}`);
  }
}

/**
 * Node-name pattern that assigns graph nodes to layers: the manifest's `languageModel.layerNodePattern`
 * (first capture group = layer index) for exports that name layers their own way, else the names common
 * exporters use (`/blocks.N/`, `/layers.N/`, `/h.N/`).
 */
export function layerNodePatternOf(stored: StoredModel): RegExp {
  const lm = stored.manifest.languageModel as { layerNodePattern?: unknown } | undefined;
  if (lm?.layerNodePattern === undefined) return defaultLayerPattern;
  const where = `model ${stored.name}/${stored.version}: manifest languageModel.layerNodePattern`;
  if (typeof lm.layerNodePattern !== 'string') throw new SiftError('failed_precondition', `${where} is not a string`);
  try {
    return compilePattern(lm.layerNodePattern, 'layerNodePattern');
  } catch (err) {
    throw new SiftError('failed_precondition', `${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** TensorProto.DataType.INT64 and FLOAT. */
const int64Type = 7;
const float32Type = 1;

/** The ONNX element type's name, for messages. */
function onnxTypeName(type: number): string {
  const names: Record<number, string> = {
    1: 'float32',
    6: 'int32',
    7: 'int64',
    10: 'float16',
    11: 'float64',
    12: 'uint32',
  };
  return names[type] ?? `#${type}`;
}

/** Loads the graph and finds its layers; failed_precondition when the file or its layers cannot be read. */
export async function loadDecoder(stored: StoredModel): Promise<DecoderModel> {
  const file = join(stored.dir, graphFile(stored.manifest));
  const bytes = new Uint8Array(
    await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new SiftError(
        'failed_precondition',
        `model ${stored.name}/${stored.version}: cannot read its graph ${file} (${err.code ?? err.message})`,
        { cause: err },
      );
    }),
  );
  await checkSha256(stored, graphFile(stored.manifest), bytes);
  let graph: OnnxModel;
  try {
    graph = decodeOnnxModel(bytes);
  } catch (err) {
    // The stored file is broken, not the request: the store's keeper has to act.
    throw new SiftError(
      'failed_precondition',
      `model ${stored.name}/${stored.version}: ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const external = await checkExternalData(graph, stored.dir).catch((err: unknown) => {
    throw new SiftError('failed_precondition', `model ${stored.name}/${stored.version}: ${(err as Error).message}`, {
      cause: err,
    });
  });
  // Data files the manifest lists are checked like the graph (streamed: they may be larger than a buffer).
  for (const file of external?.files ?? []) await checkSha256(stored, file);
  const codec = await textCodecOf(stored);
  checkDecoderInterface(graph, stored, codec);
  const pattern = layerNodePatternOf(stored);
  let boundaries: LayerBoundaries;
  try {
    boundaries = findLayerBoundaries(graph, pattern);
  } catch (err) {
    throw new SiftError(
      'failed_precondition',
      `model ${stored.name}/${stored.version}: cannot find its decoder layers in the graph (${(err as Error).message})`,
      { cause: err },
    );
  }
  if (boundaries.layerCount < 2) {
    throw new SiftError(
      'failed_precondition',
      `model ${stored.name}/${stored.version} has one layer; nothing to prune`,
    );
  }
  return {
    stored,
    bytes,
    graph,
    boundaries,
    layerCount: boundaries.layerCount,
    contextLength: contextLengthOf(stored),
    codec,
    external,
  };
}

/**
 * The residual-stream tensors x^0..x^L to capture: the model's `hidden_state_<k>` outputs when it declares
 * all of them, else the tensors matched by `pattern` (first capture group = layer), else the boundaries the
 * graph analysis found. `source` says which, for the result.
 */
export function residualStreamTensors(
  decoder: DecoderModel,
  pattern: string,
): { tensors: string[]; source: string; exposed: boolean } {
  const L = decoder.layerCount;
  const outputs = new Set((decoder.graph.graph?.output ?? []).map((o) => o.name ?? ''));
  if (!pattern) {
    const hidden = Array.from({ length: L + 1 }, (_, k) => `hidden_state_${k}`);
    if (hidden.every((h) => outputs.has(h))) return { tensors: hidden, source: 'hidden-state outputs', exposed: false };
    return { tensors: [...decoder.boundaries.tensors], source: 'graph analysis of layer boundaries', exposed: true };
  }
  const re = compilePattern(pattern);
  const byLayer = new Map<number, string>();
  const names = new Set<string>();
  for (const node of decoder.graph.graph?.node ?? []) for (const o of node.output ?? []) names.add(o);
  for (const name of names) {
    const m = re.exec(name);
    if (m?.[1] !== undefined && !byLayer.has(Number(m[1]))) byLayer.set(Number(m[1]), name);
  }
  if (byLayer.size === 0) {
    throw new SiftError('invalid_argument', `calibration.residual_stream_pattern ${pattern} matches no tensor`);
  }
  const tensors: string[] = [];
  for (let k = 0; k < L; k++) {
    const t = byLayer.get(k);
    if (!t) throw new SiftError('invalid_argument', `residual_stream_pattern matches no tensor for layer ${k}`);
    tensors.push(t);
  }
  // The pattern names the streams entering layers; the one leaving the last layer comes from the graph.
  tensors.push(byLayer.get(L) ?? (decoder.boundaries.tensors[L] as string));
  return { tensors, source: pattern, exposed: true };
}

/** A user-given regular expression with one capture group, or invalid_argument. */
export function compilePattern(pattern: string, field = 'residual_stream_pattern'): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (err) {
    throw new SiftError('invalid_argument', `${field} is not a regular expression: ${pattern}`, {
      cause: err,
    });
  }
  // `pattern|` always matches the empty string; its match array has one slot per capture group, plus one.
  if ((new RegExp(`${pattern}|`).exec('')?.length ?? 0) < 2) {
    throw new SiftError('invalid_argument', `${field} needs a capture group for the layer index`);
  }
  return re;
}

/**
 * Tokens per sequence: 0 means min(512, context). Longer than the model's context is invalid_argument;
 * texts longer than the sequence length are truncated to it (as the contract says).
 */
export function sequenceLength(requested: number, contextLength: number, field: string): number {
  if (requested === 0) return Math.min(512, contextLength);
  if (requested < 2) throw new SiftError('invalid_argument', `${field} must be at least 2`);
  if (requested > contextLength) {
    throw new SiftError(
      'invalid_argument',
      `${field} ${requested} exceeds the model's context of ${contextLength} tokens`,
    );
  }
  return requested;
}
