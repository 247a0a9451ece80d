import { runOutputs } from '@sift/inference';
import * as ort from 'onnxruntime-node';

/** The residual stream of calibration texts at every layer boundary (see domain ResidualStates). */
export interface CapturedStreams {
  /** x^k of the final (last non-padding) token of every text: [L+1] of texts × dim. */
  readonly lastToken: Float32Array[];
  /** x^k of every non-padding token: [L+1] of tokens × dim, texts in order; empty arrays when only the
   * final tokens were kept. */
  readonly allTokens: Float32Array[];
  readonly texts: number;
  readonly tokens: number;
  readonly dim: number;
}

/** UTF-8 bytes of each text, cut to `sequenceLength` at a byte boundary (the model reads bytes). */
export function byteSequences(texts: readonly string[], sequenceLength: number): Uint8Array[] {
  return texts.map((t) => {
    const b = Buffer.from(t, 'utf8');
    return b.subarray(0, Math.min(b.length, sequenceLength));
  });
}

/**
 * Runs the calibration sequences through a session that outputs the `tensors` x^0..x^L and keeps the rows
 * of real tokens. Sequences of a batch are right-padded to the longest; the model is causal, so padding
 * after a token never changes it, and padded rows are simply not kept. `onBatch` is called after each batch
 * (it may throw to cancel). With `keep` = `last-token` only the final tokens are kept: the angular distance
 * needs nothing else, and all tokens of all boundaries is (L + 1) × tokens × dim floats (360 MiB for 64k
 * tokens of byte-gpt, tens of GiB for a 7B model).
 */
export async function captureResidualStream(
  session: ort.InferenceSession,
  tensors: readonly string[],
  sequences: readonly Uint8Array[],
  batchSize: number,
  onBatch: (done: number, total: number) => void,
  keep: 'last-token' | 'all-tokens' = 'all-tokens',
): Promise<CapturedStreams> {
  const keepAll = keep === 'all-tokens';
  const tokens = sequences.reduce((s, q) => s + q.length, 0);
  const batches = Math.ceil(sequences.length / batchSize);
  let lastToken: Float32Array[] = [];
  let allTokens: Float32Array[] = [];
  let dim = 0;
  let row = 0;
  for (let b = 0; b < batches; b++) {
    const group = sequences.slice(b * batchSize, (b + 1) * batchSize);
    const width = Math.max(...group.map((q) => q.length));
    const ids = new BigInt64Array(group.length * width).fill(32n);
    group.forEach((q, i) => {
      for (let t = 0; t < q.length; t++) ids[i * width + t] = BigInt(q[t] as number);
    });
    const out = await runOutputs(session, { input_ids: new ort.Tensor('int64', ids, [group.length, width]) }, tensors);
    tensors.forEach((name, k) => {
      const t = out[name] as ort.Tensor;
      const data = t.data as Float32Array;
      if (dim === 0) {
        dim = Number(t.dims.at(-1));
        lastToken = tensors.map(() => new Float32Array(sequences.length * dim));
        allTokens = tensors.map(() => new Float32Array(keepAll ? tokens * dim : 0));
      }
      let r = row;
      group.forEach((q, i) => {
        const base = i * width * dim;
        if (keepAll) (allTokens[k] as Float32Array).set(data.subarray(base, base + q.length * dim), r * dim);
        r += q.length;
        const last = base + (q.length - 1) * dim;
        (lastToken[k] as Float32Array).set(data.subarray(last, last + dim), (b * batchSize + i) * dim);
      });
    });
    row += group.reduce((s, q) => s + q.length, 0);
    onBatch(b + 1, batches);
  }
  return { lastToken, allTokens, texts: sequences.length, tokens, dim };
}
