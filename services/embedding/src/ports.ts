import type { EncodedInput } from '@sift/featurizers';

/** What a client sees of one embedding model. */
export interface EmbeddingModelInfo {
  name: string;
  version: string;
  task: 'text-embedding' | 'code-embedding';
  dimensions: number;
  maxInputTokens: number;
  matryoshka: boolean;
  description: string;
}

/** Vectors for a batch of encoded inputs, with where the time went. */
export interface EncoderResult {
  /** [inputs, dimensions] row-major. */
  vectors: Float32Array;
  queueMs: number;
  computeMs: number;
}

/** One loaded embedding model: featurizes text and runs the encoder (batched with other calls). */
export interface Encoder {
  readonly info: EmbeddingModelInfo;
  encode(text: string): EncodedInput;
  embed(inputs: EncodedInput[], signal: AbortSignal): Promise<EncoderResult>;
}

/** Finds encoders by model name and version (empty version = newest). */
export interface EncoderRegistry {
  get(name: string, version: string): Promise<Encoder>;
  list(): Promise<EmbeddingModelInfo[]>;
}
