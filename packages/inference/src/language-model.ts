/**
 * Decoder language models as the platform scores them: how a model reads text (its {@link TextCodec}:
 * UTF-8 bytes, or a byte-level BPE `tokenizer.json`), the feeds of a batch, and bits per byte of held-out
 * text. Bits per byte (token cross-entropy over the UTF-8 bytes the predicted tokens stand for) compares
 * models whatever their vocabulary; a perplexity per token would not.
 */
import { HfTokenizerError, readHfTokenizer } from '@sift/featurizers';
import { SiftError } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import type { StoredModel } from './model-store.js';
import { runOutputs } from './tensors.js';
import type { GraphSession } from './worker-session.js';

/** One text as a model reads it. */
export interface EncodedText {
  readonly ids: Int32Array;
  /** UTF-8 bytes of the text each token stands for (1 per token for a byte model). */
  readonly bytes: Int32Array;
}

/** Text -> token ids for a decoder, with the bytes each token covers. */
export interface TextCodec {
  /** `bytes`, or `tokenizer.json` (the file the model ships). */
  readonly kind: 'bytes' | 'tokenizer';
  /** Width of the logits: token ids are below this. */
  readonly vocabSize: number;
  /** Id written into padding positions (masked by `attention_mask` where the graph takes one). */
  readonly padId: number;
  encode(text: string): EncodedText;
}

/** Token id = byte value (byte-gpt): 256 logits, one byte per token. */
export const byteCodec: TextCodec = {
  kind: 'bytes',
  vocabSize: 256,
  padId: 32,
  encode(text) {
    const bytes = Buffer.from(text, 'utf8');
    return { ids: Int32Array.from(bytes), bytes: new Int32Array(bytes.length).fill(1) };
  },
};

/**
 * The codec of a `language-model` from the store: `preprocessing.kind` `bytes` (token id = byte value), or
 * `hf-tokenizer` with a byte-level BPE `tokenizer.json` (GPT-2 style; `preprocessing.tokenizer` names the
 * file) or a SentencePiece-style one with byte fallback (BPE or Unigram). failed_precondition for any other
 * preprocessing, an unreadable or unsupported tokenizer, or one whose tokens do not map onto bytes
 * (WordPiece, Unigram without byte fallback), since bits per byte could not be measured.
 */
export async function textCodecOf(stored: StoredModel): Promise<TextCodec> {
  const where = `model ${stored.name}/${stored.version}`;
  const pre = stored.manifest.preprocessing ?? {};
  if (pre.kind === 'bytes') return byteCodec;
  if (pre.kind !== 'hf-tokenizer') {
    throw new SiftError(
      'failed_precondition',
      `${where} reads its input as preprocessing.kind ${JSON.stringify(pre.kind ?? null)}; a language model must read UTF-8 bytes ("bytes") or a byte-level BPE tokenizer.json ("hf-tokenizer")`,
    );
  }
  if (typeof pre.tokenizer !== 'string' || pre.tokenizer === '') {
    throw new SiftError('failed_precondition', `${where}: preprocessing.tokenizer must name its tokenizer.json`);
  }
  let tokenizer: Awaited<ReturnType<typeof readHfTokenizer>>;
  try {
    tokenizer = await readHfTokenizer(stored.dir, pre.tokenizer);
  } catch (err) {
    if (!(err instanceof HfTokenizerError)) throw err;
    throw new SiftError('failed_precondition', `${where}: ${err.message}`, { cause: err });
  }
  if (!tokenizer.byteLevel && tokenizer.wordMarker === undefined) {
    throw new SiftError(
      'failed_precondition',
      `${where}: its tokenizer is not byte-level (no ByteLevel pre-tokenizer, nor a SentencePiece-style word marker with byte_fallback), so the bytes each token stands for are unknown and bits per byte cannot be measured`,
    );
  }
  return {
    kind: 'tokenizer',
    vocabSize: tokenizer.vocabSize,
    padId: tokenizer.padId,
    encode(text) {
      const ids = Int32Array.from(tokenizer.tokenize(text));
      return { ids, bytes: ids.map((id) => tokenizer.tokenByteLength(id)) };
    },
  };
}

/** Graph inputs a decoder may take besides its key/value cache; each one the graph declares is fed. */
export const decoderInputNames: readonly string[] = ['input_ids', 'attention_mask', 'position_ids'];

/**
 * Key/value cache inputs as Hugging Face exports name them (`text-generation-with-past`):
 * `past_key_values.<layer>.key` and `.value`; the matching outputs are `present.<layer>.key` / `.value`.
 */
export const pastKeyValuePattern = /^past_key_values\.(\d+)\.(key|value)$/;

/** Whether {@link decoderFeeds} feeds a graph input of this name. */
export function isDecoderInput(name: string): boolean {
  return decoderInputNames.includes(name) || pastKeyValuePattern.test(name);
}

/** A decoder's inputs as a session reports them: names, and declared shapes (needed for a cache). */
export type DecoderInputs = Pick<GraphSession, 'inputNames' | 'inputMetadata'>;

/**
 * Dims of an empty cache input for `batch` rows, from the input's declared shape: the first axis is the
 * batch, exactly one other axis is symbolic (the past length, fed as 0) and the rest are fixed, as in
 * `[batch, heads, past, head_dim]`. failed_precondition naming the input when the shape says otherwise.
 */
export function emptyCacheDims(name: string, shape: readonly (number | string)[], batch: number): number[] {
  const symbolic = (d: number | string) => typeof d !== 'number' || d < 0;
  const past = shape.map((d, i) => (i > 0 && symbolic(d) ? i : -1)).filter((i) => i >= 0);
  if (shape.length < 3 || past.length !== 1) {
    throw new SiftError(
      'failed_precondition',
      `cache input "${name}" has shape [${shape.join(', ')}]; scoring text from its start feeds an empty cache, which needs the batch axis first, exactly one symbolic past-length axis and fixed sizes elsewhere (e.g. [batch, heads, past, head_dim])`,
    );
  }
  return shape.map((d, i) => (i === 0 ? batch : i === past[0] ? 0 : (d as number)));
}

/**
 * Feeds for a batch of token sequences, right-padded with `padId` to the longest: `input_ids`, and where the
 * graph takes them `attention_mask` (1 = token, 0 = padding), `position_ids` (0.., padding 0) and an empty
 * key/value cache (`past_key_values.<i>.key|value` with a past length of 0: the text is read from its
 * start). The models are causal, so padding after a token never changes that token's outputs.
 */
export function decoderFeeds(
  inputs: DecoderInputs,
  rows: readonly ArrayLike<number>[],
  padId: number,
): Record<string, ort.Tensor> {
  const width = Math.max(...rows.map((r) => r.length));
  const dims = [rows.length, width];
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(padId));
  const mask = new BigInt64Array(rows.length * width);
  const positions = new BigInt64Array(rows.length * width);
  rows.forEach((row, i) => {
    for (let t = 0; t < row.length; t++) {
      ids[i * width + t] = BigInt(row[t] as number);
      mask[i * width + t] = 1n;
      positions[i * width + t] = BigInt(t);
    }
  });
  const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, dims) };
  const { inputNames } = inputs;
  if (inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, dims);
  if (inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', positions, dims);
  for (const name of inputNames) {
    if (!pastKeyValuePattern.test(name)) continue;
    const meta = inputs.inputMetadata?.find((m) => m.name === name);
    if (!meta?.isTensor) {
      throw new SiftError('failed_precondition', `cache input "${name}": the session reports no tensor shape for it`);
    }
    if (meta.type !== 'float32') {
      throw new SiftError(
        'failed_precondition',
        `cache input "${name}" is ${meta.type}; only float32 caches (and float32 logits) are read`,
      );
    }
    feeds[name] = new ort.Tensor('float32', new Float32Array(0), emptyCacheDims(name, meta.shape, rows.length));
  }
  return feeds;
}

/** Cross-entropy of a language model on some text. */
export interface LanguageModelScore {
  /** Negative log2-likelihood of the predicted tokens over the UTF-8 bytes they stand for. */
  bitsPerByte: number;
  /** Perplexity per byte, 2^bitsPerByte (comparable across vocabularies). */
  perplexity: number;
  /** Bytes of the predicted tokens (each window's first token has no context and is not scored). */
  bytesScored: number;
  /** Tokens predicted. */
  tokensScored: number;
}

/** A `contextLength`-token slice of one text. */
interface Window {
  readonly ids: Int32Array;
  readonly bytes: Int32Array;
}

/**
 * Scores text with a decoder (inputs as {@link decoderFeeds}, output `logits` [batch, seq, vocab]): each
 * text is cut into non-overlapping windows of `contextLength` tokens, each window predicts its tokens 2..n
 * from their prefixes, and the negative log-likelihoods are summed over the bytes those tokens stand for.
 * Windows of one call run in batches of equal length (the last, shorter window of a text with its like), so
 * no padding is needed.
 */
export async function scoreText(
  session: GraphSession,
  texts: readonly string[],
  opts: {
    contextLength: number;
    codec?: TextCodec;
    batchSize?: number;
    logitsName?: string;
    /** Checked before every batch: a cancelled job stops within one model call. */
    signal?: AbortSignal;
    /** Called after every batch with the windows scored so far and their total. */
    onProgress?: (done: number, total: number) => void;
  },
): Promise<LanguageModelScore> {
  const codec = opts.codec ?? byteCodec;
  const windows = scoredWindows(texts, opts.contextLength, codec);
  if (windows.length === 0) {
    throw new SiftError('invalid_argument', 'no text to score: a text needs at least 2 tokens to predict one');
  }
  const vocab = codec.vocabSize;
  const logitsName = opts.logitsName ?? 'logits';
  let nll = 0;
  let tokens = 0;
  let bytes = 0;
  let done = 0;
  const byLength = new Map<number, Window[]>();
  for (const w of windows) {
    const group = byLength.get(w.ids.length);
    if (group) group.push(w);
    else byLength.set(w.ids.length, [w]);
  }
  const batchSize = opts.batchSize ?? 16;
  for (const [len, group] of byLength) {
    for (let b0 = 0; b0 < group.length; b0 += batchSize) {
      opts.signal?.throwIfAborted();
      const batch = group.slice(b0, b0 + batchSize);
      const feeds = decoderFeeds(
        session,
        batch.map((w) => w.ids),
        codec.padId,
      );
      const tensor = (await runOutputs(session, feeds, [logitsName]))[logitsName];
      if (tensor?.dims.length !== 3 || tensor.dims[2] !== vocab) {
        throw new SiftError(
          'failed_precondition',
          `the model's logits have shape [${tensor?.dims.join(', ')}]; scoring needs [batch, sequence, ${vocab}] (the vocabulary of its ${codec.kind === 'bytes' ? 'byte ids' : 'tokenizer'})`,
        );
      }
      if (tensor.type !== 'float32') {
        throw new SiftError(
          'failed_precondition',
          `the model's logits are ${tensor.type}; scoring reads float32 logits, so export the model in float32`,
        );
      }
      const logits = tensor.data as Float32Array;
      batch.forEach((w, i) => {
        for (let t = 0; t + 1 < len; t++) {
          const o = (i * len + t) * vocab;
          let max = Number.NEGATIVE_INFINITY;
          for (let v = 0; v < vocab; v++) max = Math.max(max, logits[o + v] as number);
          let sum = 0;
          for (let v = 0; v < vocab; v++) sum += Math.exp((logits[o + v] as number) - max);
          nll += Math.log(sum) + max - (logits[o + (w.ids[t + 1] as number)] as number);
          tokens++;
          bytes += w.bytes[t + 1] as number;
        }
      });
      done += batch.length;
      opts.onProgress?.(done, windows.length);
    }
  }
  if (bytes === 0) {
    throw new SiftError('invalid_argument', 'no text to score: the predicted tokens stand for no bytes');
  }
  const bitsPerByte = nll / bytes / Math.LN2;
  return { bitsPerByte, perplexity: 2 ** bitsPerByte, bytesScored: bytes, tokensScored: tokens };
}

/** The windows {@link scoreText} scores: `contextLength`-token slices of each text, those of 2 tokens or more. */
function scoredWindows(texts: readonly string[], contextLength: number, codec: TextCodec): Window[] {
  const windows: Window[] = [];
  for (const text of texts) {
    const { ids, bytes } = codec.encode(text);
    for (let s = 0; s < ids.length; s += contextLength) {
      const end = Math.min(ids.length, s + contextLength);
      if (end - s >= 2) windows.push({ ids: ids.subarray(s, end), bytes: bytes.subarray(s, end) });
    }
  }
  return windows;
}

/** Bytes {@link scoreText} predicts for these texts (each window's first token has no context). */
export function predictedBytes(texts: readonly string[], contextLength: number, codec: TextCodec = byteCodec): number {
  let n = 0;
  for (const w of scoredWindows(texts, contextLength, codec))
    for (let t = 1; t < w.bytes.length; t++) n += w.bytes[t] as number;
  return n;
}

/**
 * Longest input a language model was trained on, in tokens: the manifest's `languageModel.contextLength`,
 * else `preprocessing.maxSequence` (bytes) or `preprocessing.maxTokens` (tokenizer). failed_precondition
 * when none is given.
 */
export function contextLengthOf(stored: StoredModel): number {
  const lm = stored.manifest.languageModel as { contextLength?: unknown } | undefined;
  const pre = stored.manifest.preprocessing ?? {};
  const context = Number(lm?.contextLength ?? pre.maxSequence ?? pre.maxTokens ?? 0);
  if (!Number.isInteger(context) || context < 2) {
    throw new SiftError(
      'failed_precondition',
      `model ${stored.name}/${stored.version}: manifest gives no context length (languageModel.contextLength)`,
    );
  }
  return context;
}
