/**
 * A featurizer turns one input string into what an encoder graph consumes. Encoding is per input (so a
 * dynamic batcher can count tokens before it forms a batch); collation pads a batch into named tensors.
 */

/** A tensor ready to be handed to ONNX Runtime: element type, shape and row-major data. */
export type FeedTensor =
  | { readonly dtype: 'int64'; readonly dims: readonly number[]; readonly data: BigInt64Array }
  | { readonly dtype: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array };

/** One input after featurization. `tokenCount` is measured before truncation. */
export interface EncodedInput {
  /** Tokens the input produced before truncation (words, word pieces or code tokens). */
  readonly tokenCount: number;
  /** Whether the input was cut to the featurizer's `maxTokens`. */
  readonly truncated: boolean;
  /** Tokens actually fed to the model (<= maxTokens); the batcher budgets with this. */
  readonly fedTokens: number;
}

/** Turns strings into encoder feeds; one implementation per `preprocessing.kind` in model manifests. */
export interface Featurizer<E extends EncodedInput = EncodedInput> {
  /** The manifest's `preprocessing.kind` this implements. */
  readonly kind: string;
  /** Longest input, in tokens, the model is fed; longer inputs are truncated. */
  readonly maxTokens: number;
  /** Featurizes one input. Pure and synchronous. */
  encode(text: string): E;
  /** Pads a batch of encoded inputs into the graph's named inputs. */
  collate(batch: readonly E[]): Record<string, FeedTensor>;
}
