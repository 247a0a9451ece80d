import type { FeedTensor } from '@sift/featurizers';
import * as ort from 'onnxruntime-node';
import type { GraphSession } from './worker-session.js';

/** Wraps featurizer output as ONNX Runtime tensors (no copy). */
export function toOrtFeeds(feeds: Record<string, FeedTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  return out;
}

/** A float32 output's data and shape, or an error naming the output when it is missing or not float32. */
export function float32Output(
  results: Record<string, ort.Tensor>,
  name: string,
): { data: Float32Array; dims: number[] } {
  const t = results[name];
  if (!t) throw new Error(`graph has no output "${name}" (has: ${Object.keys(results).join(', ')})`);
  if (t.type !== 'float32') throw new Error(`output "${name}" is ${t.type}, expected float32`);
  return { data: t.data as Float32Array, dims: [...t.dims] };
}

/**
 * Runs a session and returns the named outputs. onnxruntime-node 1.23.2 mislabels a requested subset of
 * outputs (it keys them by the graph's first output names; microsoft/onnxruntime#26865), so a subset is
 * only requested when it is exactly a prefix of the graph's outputs; otherwise every output is computed and
 * the named ones picked.
 */
export async function runOutputs(
  session: GraphSession,
  feeds: Record<string, ort.Tensor>,
  names: readonly string[],
): Promise<Record<string, ort.Tensor>> {
  const isPrefix = names.every((n, i) => session.outputNames[i] === n);
  const results = isPrefix ? await session.run(feeds, [...names]) : await session.run(feeds);
  const picked: Record<string, ort.Tensor> = {};
  for (const n of names) {
    const t = results[n];
    if (!t) throw new Error(`graph has no output "${n}" (has: ${session.outputNames.join(', ')})`);
    picked[n] = t;
  }
  return picked;
}
