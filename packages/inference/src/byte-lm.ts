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
  opts: { contextLength: number; batchSize?: number; logitsName?: string } = { contextLength: 256 },
): Promise<ByteLmScore> {
  const ctx = opts.contextLength;
  const windows: Uint8Array[] = [];
  for (const text of texts) {
    const bytes = Buffer.from(text, 'utf8');
    for (let s = 0; s < bytes.length; s += ctx) {
      const w = bytes.subarray(s, Math.min(bytes.length, s + ctx));
      if (w.length >= 2) windows.push(w);
    }
  }
  let nll = 0;
  let scored = 0;
  const byLength = new Map<number, Uint8Array[]>();
  for (const w of windows) byLength.set(w.length, [...(byLength.get(w.length) ?? []), w]);
  const batchSize = opts.batchSize ?? 16;
  for (const [len, group] of byLength) {
    for (let b0 = 0; b0 < group.length; b0 += batchSize) {
      const batch = group.slice(b0, b0 + batchSize);
      const ids = new BigInt64Array(batch.length * len);
      batch.forEach((w, i) => {
        for (let t = 0; t < len; t++) ids[i * len + t] = BigInt(w[t] as number);
      });
      const out = await runOutputs(session, { input_ids: new ort.Tensor('int64', ids, [batch.length, len]) }, [
        opts.logitsName ?? 'logits',
      ]);
      const logits = out[opts.logitsName ?? 'logits']?.data as Float32Array;
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
    }
  }
  if (scored === 0) throw new RangeError('no text to score: every window needs at least 2 bytes');
  const bitsPerByte = nll / scored / Math.LN2;
  return { bitsPerByte, perplexity: 2 ** bitsPerByte, bytesScored: scored };
}
