import { SiftError } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { runOutputs } from './tensors.js';
import type { GraphSession } from './worker-session.js';

/** Cross-entropy of a byte language model on some text. */
export interface ByteLmScore {
  /** Mean negative log2-likelihood per predicted byte. */
  bitsPerByte: number;
  /** Perplexity per byte, 2^bitsPerByte. */
  perplexity: number;
  /** Bytes predicted (each window's first byte has no context and is not scored). */
  bytesScored: number;
}

/**
 * Scores UTF-8 text with a byte-level decoder (input `input_ids` int64 [batch, seq], output `logits`
 * [batch, seq, 256]): the text is cut into non-overlapping windows of `contextLength` bytes, each window
 * predicts its bytes 2..n from their prefixes, and the negative log-likelihoods are averaged. The windows of
 * one call run in batches of equal length (the last, shorter window alone), so no padding is needed.
 */
export async function scoreBytes(
  session: GraphSession,
  texts: readonly string[],
  opts: {
    contextLength: number;
    batchSize?: number;
    logitsName?: string;
    /** Checked before every batch: a cancelled job stops within one model call. */
    signal?: AbortSignal;
    /** Called after every batch with the windows scored so far and their total. */
    onProgress?: (done: number, total: number) => void;
  } = { contextLength: 256 },
): Promise<ByteLmScore> {
  const windows = scoredWindows(texts, opts.contextLength);
  if (windows.length === 0) {
    throw new SiftError('invalid_argument', 'no text to score: a text needs at least 2 bytes to predict one');
  }
  let nll = 0;
  let scored = 0;
  let done = 0;
  const byLength = new Map<number, Uint8Array[]>();
  for (const w of windows) byLength.set(w.length, [...(byLength.get(w.length) ?? []), w]);
  const batchSize = opts.batchSize ?? 16;
  for (const [len, group] of byLength) {
    for (let b0 = 0; b0 < group.length; b0 += batchSize) {
      opts.signal?.throwIfAborted();
      const batch = group.slice(b0, b0 + batchSize);
      const ids = new BigInt64Array(batch.length * len);
      batch.forEach((w, i) => {
        for (let t = 0; t < len; t++) ids[i * len + t] = BigInt(w[t] as number);
      });
      const out = await runOutputs(session, { input_ids: new ort.Tensor('int64', ids, [batch.length, len]) }, [
        opts.logitsName ?? 'logits',
      ]);
      const tensor = out[opts.logitsName ?? 'logits'];
      if (tensor?.dims.length !== 3 || tensor.dims[2] !== 256) {
        throw new SiftError(
          'failed_precondition',
          `the model's logits have shape [${tensor?.dims.join(', ')}]; byte scoring needs [batch, sequence, 256] (token id = byte value)`,
        );
      }
      const logits = tensor.data as Float32Array;
      batch.forEach((w, i) => {
        for (let t = 0; t + 1 < len; t++) {
          const o = (i * len + t) * 256;
          let max = Number.NEGATIVE_INFINITY;
          for (let v = 0; v < 256; v++) max = Math.max(max, logits[o + v] as number);
          let sum = 0;
          for (let v = 0; v < 256; v++) sum += Math.exp((logits[o + v] as number) - max);
          nll += Math.log(sum) + max - (logits[o + (w[t + 1] as number)] as number);
          scored++;
        }
      });
      done += batch.length;
      opts.onProgress?.(done, windows.length);
    }
  }
  const bitsPerByte = nll / scored / Math.LN2;
  return { bitsPerByte, perplexity: 2 ** bitsPerByte, bytesScored: scored };
}

/** The windows {@link scoreBytes} scores: `contextLength`-byte slices of each text, those of 2 bytes or more. */
export function scoredWindows(texts: readonly string[], contextLength: number): Uint8Array[] {
  const windows: Uint8Array[] = [];
  for (const text of texts) {
    const bytes = Buffer.from(text, 'utf8');
    for (let s = 0; s < bytes.length; s += contextLength) {
      const w = bytes.subarray(s, Math.min(bytes.length, s + contextLength));
      if (w.length >= 2) windows.push(w);
    }
  }
  return windows;
}

/** Bytes {@link scoreBytes} predicts for these texts (each window's first byte has no context). */
export function predictedBytes(texts: readonly string[], contextLength: number): number {
  return scoredWindows(texts, contextLength).reduce((n, w) => n + w.length - 1, 0);
}
