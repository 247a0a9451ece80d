import {
  contextLengthOf,
  type ModelStore,
  SessionCache,
  type StoredModel,
  scoreText,
  type TextCodec,
  textCodecOf,
} from '@sift/inference';
import { type Logger, SiftError } from '@sift/kit';
import type { LanguageModelScorer } from '../ports.js';

/**
 * Language models from the model store (byte-level, or byte-level BPE with a tokenizer.json), scored with ONNX
 * Runtime on a worker thread. Perplexity is per byte, so filters compare alike whatever the vocabulary.
 */
export class StoreLanguageModels implements LanguageModelScorer {
  private readonly sessions: SessionCache;
  private readonly codecs = new Map<string, Promise<TextCodec>>();

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
    const codec = await this.codecOf(model);
    const graph = await this.sessions.get(model);
    const score = await scoreText(graph.session, texts, {
      contextLength: contextLengthOf(model),
      codec,
      ...(signal ? { signal } : {}),
    });
    return score.perplexity;
  }

  private async resolve(ref: { name: string; version: string }) {
    const model = await this.store.resolve(ref.name, ref.version);
    if (model.manifest.task !== 'language-model') {
      throw new SiftError('invalid_argument', `model ${model.name}/${model.version} is not a language model`);
    }
    try {
      await this.codecOf(model);
    } catch (err) {
      if (!(err instanceof SiftError)) throw err;
      throw new SiftError('invalid_argument', err.message, { cause: err });
    }
    return model;
  }

  /** The model's codec, read once per model (a tokenizer.json is parsed once, not per filter). */
  private codecOf(model: StoredModel): Promise<TextCodec> {
    const key = `${model.name}/${model.version}`;
    let codec = this.codecs.get(key);
    if (!codec) {
      codec = textCodecOf(model);
      codec.catch(() => this.codecs.delete(key));
      this.codecs.set(key, codec);
    }
    return codec;
  }

  close(): Promise<void> {
    return this.sessions.close();
  }
}
