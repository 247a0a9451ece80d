import { decoderFeeds, type GraphSession, runOutputs, type TextCodec } from '@sift/inference';
import type * as ort from 'onnxruntime-node';

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

/** Token ids of each text as the model reads it (bytes or tokenizer), cut to its first `sequenceLength`. */
export function tokenSequences(texts: readonly string[], sequenceLength: number, codec: TextCodec): Int32Array[] {
  return texts.map((t) => {
    const { ids } = codec.encode(t);
    return ids.subarray(0, Math.min(ids.length, sequenceLength));
  });
}

/** The real-token rows of one batch of calibration sequences, per captured tensor. */
export interface TokenBatch {
  /** Per tensor: the rows of every non-padding token of the batch, sequences in order (count × dim). */
  readonly rows: Float32Array[];
  /** Per tensor: the row of each sequence's final token (sequences × dim). */
  readonly lastRows: Float32Array[];
  /** Non-padding tokens in the batch. */
  readonly count: number;
  /** Sequences in the batch. */
  readonly sequences: number;
  readonly dim: number;
}

/**
 * Runs the calibration sequences through a session that outputs `tensors`, batch by batch, and hands each
 * batch's real-token rows to `visit`; nothing is kept beyond one batch, so a consumer that accumulates
 * (a least-squares fit) needs memory for one batch whatever the number of tokens. Sequences of a batch are
 * right-padded to the longest with `padId` (masked where the graph takes an `attention_mask`); the model is
 * causal, so padding after a token never changes it, and padded rows are simply not passed on. `visit` returns false to stop early. `onBatch` is called after each batch
 * (it may throw to cancel).
 */
export async function forEachTokenBatch(
  session: GraphSession,
  tensors: readonly string[],
  sequences: readonly Int32Array[],
  padId: number,
  batchSize: number,
  visit: (batch: TokenBatch) => boolean | undefined,
  onBatch: (done: number, total: number) => void,
): Promise<void> {
  const batches = Math.ceil(sequences.length / batchSize);
  for (let b = 0; b < batches; b++) {
    const group = sequences.slice(b * batchSize, (b + 1) * batchSize);
    const width = Math.max(...group.map((q) => q.length));
    const out = await runOutputs(session, decoderFeeds(session, group, padId), tensors);
    const count = group.reduce((n, q) => n + q.length, 0);
    const dim = Number((out[tensors[0] as string] as ort.Tensor).dims.at(-1));
    const rows: Float32Array[] = [];
    const lastRows: Float32Array[] = [];
    for (const name of tensors) {
      const data = (out[name] as ort.Tensor).data as Float32Array;
      const all = new Float32Array(count * dim);
      const last = new Float32Array(group.length * dim);
      let r = 0;
      group.forEach((q, i) => {
        const base = i * width * dim;
        all.set(data.subarray(base, base + q.length * dim), r * dim);
        r += q.length;
        const end = base + (q.length - 1) * dim;
        last.set(data.subarray(end, end + dim), i * dim);
      });
      rows.push(all);
      lastRows.push(last);
    }
    const more = visit({ rows, lastRows, count, sequences: group.length, dim });
    onBatch(b + 1, batches);
    if (more === false) return;
  }
}

/**
 * The residual stream x^0..x^L (the `tensors`) of the calibration sequences, collected with
 * {@link forEachTokenBatch}. With `keep` = `last-token` only the final tokens are kept: the angular distance
 * needs nothing else, and all tokens of all boundaries is (L + 1) × tokens × dim floats (360 MiB for 64k
 * tokens of byte-gpt, tens of GiB for a 7B model).
 */
export async function captureResidualStream(
  session: GraphSession,
  tensors: readonly string[],
  sequences: readonly Int32Array[],
  padId: number,
  batchSize: number,
  onBatch: (done: number, total: number) => void,
  keep: 'last-token' | 'all-tokens' = 'all-tokens',
): Promise<CapturedStreams> {
  const keepAll = keep === 'all-tokens';
  const tokens = sequences.reduce((n, q) => n + q.length, 0);
  let lastToken: Float32Array[] = [];
  let allTokens: Float32Array[] = [];
  let dim = 0;
  let row = 0;
  let text = 0;
  await forEachTokenBatch(
    session,
    tensors,
    sequences,
    padId,
    batchSize,
    (batch) => {
      if (dim === 0) {
        dim = batch.dim;
        lastToken = tensors.map(() => new Float32Array(sequences.length * dim));
        allTokens = tensors.map(() => new Float32Array(keepAll ? tokens * dim : 0));
      }
      tensors.forEach((_, k) => {
        (lastToken[k] as Float32Array).set(batch.lastRows[k] as Float32Array, text * dim);
        if (keepAll) (allTokens[k] as Float32Array).set(batch.rows[k] as Float32Array, row * dim);
      });
      row += batch.count;
      text += batch.sequences;
      return true;
    },
    onBatch,
  );
  return { lastToken, allTokens, texts: sequences.length, tokens, dim };
}
