/**
 * `hf-tokenizer`: text -> `input_ids` / `attention_mask` / `token_type_ids` for a Hugging Face
 * sentence-transformer exported to ONNX with its `tokenizer.json` (the BERT family's WordPiece, or a RoBERTa-style
 * byte-level BPE).
 *
 * Manifest keys (`preprocessing`):
 * - `tokenizer`: the `tokenizer.json` file in the model folder;
 * - `maxTokens`: most tokens fed per input, special tokens included (the position table's size at most);
 * - `pooling`: `mean` (masked mean over tokens, sentence-transformers' default) or `cls` (first token);
 * - `outputName`: the graph output to pool, e.g. `last_hidden_state` ([batch, tokens, d]), or an already
 *   pooled `sentence_embedding` ([batch, d]).
 * Pooling is not done here: the featurizer only carries `pooling` and `outputName` for the service.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { EncodedInput, Featurizer, FeedTensor } from './featurizer.js';
import { HfTokenizer, HfTokenizerError } from './hf-tokenizer.js';

/** How token vectors become one sentence vector. */
export type HfPooling = 'mean' | 'cls';

/** One input as token ids and token type ids, special tokens included, cut to `maxTokens`. */
export interface HfEncoded extends EncodedInput {
  readonly ids: Int32Array;
  readonly typeIds: Int32Array;
}

/** Graph inputs this featurizer can feed. */
export const hfFeedNames: readonly string[] = ['input_ids', 'attention_mask', 'token_type_ids'];

/** Options of {@link HfFeaturizer}. */
export interface HfFeaturizerOptions {
  readonly maxTokens: number;
  readonly pooling: HfPooling;
  readonly outputName: string;
  /**
   * The graph's input names. `input_ids` must be among them; `attention_mask` and `token_type_ids` are fed
   * only when listed (ONNX Runtime rejects feeds the graph lacks). Omitted: `input_ids` + `attention_mask`.
   */
  readonly inputNames?: readonly string[];
}

/** Tokenizes with a `tokenizer.json` and pads batches into the BERT-style int64 [batch, tokens] inputs. */
export class HfFeaturizer implements Featurizer<HfEncoded> {
  readonly kind = 'hf-tokenizer';
  readonly maxTokens: number;
  readonly pooling: HfPooling;
  readonly outputName: string;
  /** Names of the tensors {@link collate} returns. */
  readonly feeds: readonly string[];

  constructor(
    readonly tokenizer: HfTokenizer,
    options: HfFeaturizerOptions,
  ) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens <= tokenizer.addedTokenCount) {
      throw new HfTokenizerError(
        'invalid',
        `hf-tokenizer: maxTokens must be an integer above the ${tokenizer.addedTokenCount} special tokens, got ${options.maxTokens}`,
      );
    }
    this.maxTokens = options.maxTokens;
    this.pooling = options.pooling;
    this.outputName = options.outputName;
    const names = options.inputNames ?? ['input_ids', 'attention_mask'];
    const unknown = names.filter((n) => !hfFeedNames.includes(n));
    if (!names.includes('input_ids') || unknown.length > 0) {
      throw new HfTokenizerError(
        'invalid',
        `hf-tokenizer: the graph must take input_ids and may take attention_mask and token_type_ids; it takes ${names.join(', ')}`,
      );
    }
    this.feeds = hfFeedNames.filter((n) => names.includes(n));
  }

  encode(text: string): HfEncoded {
    const e = this.tokenizer.encode(text, this.maxTokens);
    return {
      ids: e.ids,
      typeIds: e.typeIds,
      tokenCount: e.tokenCount,
      truncated: e.truncated,
      fedTokens: e.ids.length,
    };
  }

  /** Pads to the longest input of the batch (padding id, mask 0, padding type id) on the right. */
  collate(batch: readonly HfEncoded[]): Record<string, FeedTensor> {
    let width = 1;
    for (const item of batch) width = Math.max(width, item.ids.length);
    const dims = [batch.length, width];
    const ids = new BigInt64Array(batch.length * width).fill(BigInt(this.tokenizer.padId));
    const mask = new BigInt64Array(batch.length * width);
    const types = new BigInt64Array(batch.length * width).fill(BigInt(this.tokenizer.padTypeId));
    batch.forEach((item, row) => {
      const offset = row * width;
      for (let i = 0; i < item.ids.length; i++) {
        ids[offset + i] = BigInt(item.ids[i]!);
        mask[offset + i] = 1n;
        types[offset + i] = BigInt(item.typeIds[i]!);
      }
    });
    const all: Record<string, FeedTensor> = {
      input_ids: { dtype: 'int64', dims, data: ids },
      attention_mask: { dtype: 'int64', dims, data: mask },
      token_type_ids: { dtype: 'int64', dims, data: types },
    };
    return Object.fromEntries(this.feeds.map((name) => [name, all[name]!]));
  }
}

/**
 * Reads the manifest's `preprocessing` block (kind `hf-tokenizer`) and the `tokenizer.json` it names in
 * `modelDir`, and builds the featurizer for a graph with the given input names.
 *
 * @throws HfTokenizerError (kind `invalid`) for a missing or faulty key, an unreadable file or a graph
 *   without `input_ids`; (kind `unsupported`) for a tokenizer component this featurizer does not support, named.
 */
export async function createHfFeaturizer(
  modelDir: string,
  preprocessing: Record<string, unknown>,
  inputNames?: readonly string[],
): Promise<HfFeaturizer> {
  const { tokenizer: file, maxTokens, pooling, outputName } = preprocessing;
  if (preprocessing.kind !== 'hf-tokenizer') {
    throw new HfTokenizerError('invalid', `hf-tokenizer: preprocessing kind is ${JSON.stringify(preprocessing.kind)}`);
  }
  if (typeof file !== 'string' || file === '') {
    throw new HfTokenizerError('invalid', `hf-tokenizer: "tokenizer" must name a file, got ${JSON.stringify(file)}`);
  }
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new HfTokenizerError(
      'invalid',
      `hf-tokenizer: "maxTokens" must be a positive integer, got ${JSON.stringify(maxTokens)}`,
    );
  }
  if (pooling !== 'mean' && pooling !== 'cls') {
    throw new HfTokenizerError(
      'invalid',
      `hf-tokenizer: "pooling" must be "mean" or "cls", got ${JSON.stringify(pooling)}`,
    );
  }
  if (typeof outputName !== 'string' || outputName === '') {
    throw new HfTokenizerError(
      'invalid',
      `hf-tokenizer: "outputName" must be a graph output name, got ${JSON.stringify(outputName)}`,
    );
  }
  const tokenizer = await readHfTokenizer(modelDir, file);
  return new HfFeaturizer(tokenizer, { maxTokens, pooling, outputName, inputNames });
}

/**
 * Reads and parses the `tokenizer.json` named `file` inside `modelDir`.
 * @throws HfTokenizerError (kind `invalid`) for a file outside the folder, unreadable or malformed;
 *   (kind `unsupported`) for a component this reader does not support, named.
 */
export async function readHfTokenizer(modelDir: string, file: string): Promise<HfTokenizer> {
  const path = resolve(modelDir, file);
  const rel = relative(resolve(modelDir), path);
  if (rel === '' || rel.split(sep)[0] === '..' || isAbsolute(rel)) {
    throw new HfTokenizerError('invalid', `hf-tokenizer: file ${JSON.stringify(file)} is outside the model folder`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HfTokenizerError('invalid', `hf-tokenizer: cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return HfTokenizer.fromJsonText(text);
}
