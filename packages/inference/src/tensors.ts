import type { FeedTensor } from '@sift/featurizers';
import * as ort from 'onnxruntime-node';

/** Wraps featurizer output as ONNX Runtime tensors (no copy). */
export function toOrtFeeds(feeds: Record<string, FeedTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  return out;
}

/** A float32 output's data and shape, or an error naming the output when it is missing or not float32. */
export function float32Output(
  results: ort.InferenceSession.ReturnType,
  name: string,
): { data: Float32Array; dims: number[] } {
  const t = results[name];
  if (!t) throw new Error(`graph has no output "${name}" (has: ${Object.keys(results).join(', ')})`);
  if (t.type !== 'float32') throw new Error(`output "${name}" is ${t.type}, expected float32`);
  return { data: t.data as Float32Array, dims: [...t.dims] };
}
