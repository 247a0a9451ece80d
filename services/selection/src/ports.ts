/** What the selection pipeline needs from the outside world. */

/** Turns texts into unit vectors (the embedding service, in production). */
export interface TextEmbedder {
  embed(
    texts: readonly string[],
    opts: { model: string; version: string; dimensions: number; batchSize: number },
    onProgress: (done: number) => void,
    signal: AbortSignal,
  ): Promise<{
    vectors: Float32Array;
    dims: number;
    model: { name: string; version: string };
  }>;
  /**
   * Checks, before a job is queued, that the service serves `model` (empty name: its default) with at least
   * `dimensions` components: NOT_FOUND or INVALID_ARGUMENT naming the model otherwise. An embedding service
   * that cannot be asked right now is no reason to refuse the job (it checks again when it runs).
   */
  checkModel(model: string, version: string, dimensions: number): Promise<void>;
}

/** Perplexity per byte of text under a language model from the model store (for text-quality weights). */
export interface LanguageModelScorer {
  /** NOT_FOUND for a model the store lacks, INVALID_ARGUMENT for one that is not a language model with a byte or byte-level BPE input. */
  check(model: { name: string; version: string }): Promise<void>;
  /** `signal` stops the scoring between batches of windows. */
  perplexity(model: { name: string; version: string }, texts: readonly string[], signal?: AbortSignal): Promise<number>;
}
