import { type ModelStore, SessionCache, scoreBytes } from '@sift/inference';
import { type Logger, SiftError } from '@sift/kit';
import type { LanguageModelScorer } from '../ports.js';

/** Byte-level language models from the model store, scored with ONNX Runtime on a worker thread. */
export class StoreLanguageModels implements LanguageModelScorer {
  private readonly sessions: SessionCache;

  constructor(
    private readonly store: ModelStore,
    logger: Logger,
  ) {
    // A worker thread: scoring a corpus is many 16 x 256-byte forward passes (tens of ms each) that would
    // otherwise hold the event loop the service's gRPC calls and job messages need.
    this.sessions = new SessionCache({ provider: 'cpu', logger, thread: 'worker' });
  }

  async check(ref: { name: string; version: string }): Promise<void> {
    await this.resolve(ref);
  }

  async perplexity(
    ref: { name: string; version: string },
    texts: readonly string[],
    signal?: AbortSignal,
  ): Promise<number> {
    const model = await this.resolve(ref);
    const contextLength = Number(model.manifest.preprocessing?.maxSequence ?? 256);
    const graph = await this.sessions.get(model);
    return (await scoreBytes(graph.session, texts, { contextLength, ...(signal ? { signal } : {}) })).perplexity;
  }

  private async resolve(ref: { name: string; version: string }) {
    const model = await this.store.resolve(ref.name, ref.version);
    if (model.manifest.task !== 'language-model' || model.manifest.preprocessing?.kind !== 'bytes') {
      throw new SiftError(
        'invalid_argument',
        `model ${model.name}/${model.version} is not a byte-level language model`,
      );
    }
    return model;
  }

  close(): Promise<void> {
    return this.sessions.close();
  }
}
