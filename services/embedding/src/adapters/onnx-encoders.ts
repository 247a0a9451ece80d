import { createFeaturizer, type EncodedInput, type Featurizer, type FeedTensor } from '@sift/featurizers';
import {
  type BatcherOptions,
  DynamicBatcher,
  float32Output,
  type ModelStore,
  runOutputs,
  type SessionCache,
  type StoredModel,
  toOrtFeeds,
} from '@sift/inference';
import { echoed, indefiniteArticle, type Logger, SiftError } from '@sift/kit';
import { clsPool, meanPool } from '../domain/vectors.js';
import type { EmbeddingModelInfo, Encoder, EncoderRegistry, EncoderResult } from '../ports.js';

const embeddingTasks = new Set(['text-embedding', 'code-embedding']);

/** Model info from a manifest, or an error saying why the model is not an embedding model. */
export function embeddingInfo(model: StoredModel): EmbeddingModelInfo {
  const m = model.manifest;
  if (!embeddingTasks.has(m.task)) {
    throw new SiftError(
      'invalid_argument',
      `model ${model.name}/${model.version} is ${indefiniteArticle(m.task)} ${echoed(m.task)} model, not an embedding model`,
    );
  }
  const dims = m.embedding?.dimensions;
  if (!dims) throw new SiftError('failed_precondition', `model ${model.name}: manifest lacks embedding.dimensions`);
  return {
    name: model.name,
    version: model.version,
    task: m.task as EmbeddingModelInfo['task'],
    dimensions: dims,
    maxInputTokens: Number(m.preprocessing?.maxTokens ?? 0),
    matryoshka: m.embedding?.matryoshka ?? false,
    description: m.description,
  };
}

/**
 * An encoder backed by an ONNX graph: featurize per input, batch dynamically with other calls, run,
 * pool token vectors when the graph returns them ([batch, tokens, dims]), split into rows.
 */
class OnnxEncoder implements Encoder {
  private readonly batcher: DynamicBatcher<EncodedInput, Float32Array>;

  constructor(
    readonly info: EmbeddingModelInfo,
    private readonly featurizer: Featurizer,
    run: (feeds: Record<string, FeedTensor>) => Promise<{ data: Float32Array; dims: number[] }>,
    pooling: 'mean' | 'cls',
    batcherOptions: BatcherOptions,
  ) {
    this.batcher = new DynamicBatcher(async (items) => {
      const feeds = featurizer.collate(items);
      const out = await run(feeds);
      const rows = pooledRows(out, feeds, pooling, info.dimensions);
      return items.map((_, i) => rows.subarray(i * info.dimensions, (i + 1) * info.dimensions));
    }, batcherOptions);
  }

  encode(text: string): EncodedInput {
    return this.featurizer.encode(text);
  }

  async embed(inputs: EncodedInput[], signal: AbortSignal): Promise<EncoderResult> {
    const r = await this.batcher.submit(inputs, signal);
    const vectors = new Float32Array(inputs.length * this.info.dimensions);
    r.outputs.forEach((row, i) => {
      vectors.set(row, i * this.info.dimensions);
    });
    return { vectors, queueMs: r.queueMs, computeMs: r.computeMs };
  }
}

function pooledRows(
  out: { data: Float32Array; dims: number[] },
  feeds: Record<string, FeedTensor>,
  pooling: 'mean' | 'cls',
  dims: number,
): Float32Array {
  if (out.dims.length === 2) return out.data;
  const [batch = 0, tokens = 0, d = 0] = out.dims;
  if (out.dims.length !== 3 || d !== dims) {
    throw new Error(
      `encoder output has shape [${out.dims.join(', ')}]; expected [batch, ${dims}] or [batch, tokens, ${dims}]`,
    );
  }
  if (pooling === 'cls') return clsPool(out.data, batch, tokens, d);
  const mask = feeds.attention_mask;
  if (!mask) throw new Error('mean pooling over tokens needs an attention_mask input');
  return meanPool(out.data, mask.data, batch, tokens, d);
}

/** Loads embedding models from the store on first use and keeps one encoder (and batcher) per version. */
export class OnnxEncoderRegistry implements EncoderRegistry {
  private readonly encoders = new Map<string, Promise<Encoder>>();
  /**
   * Requested (name, version) -> its encoder, so that a call does not list the store and parse the manifest
   * again (that file-system work cost more than the whole model call for a small encoder). A stored version
   * never changes, so explicit versions stay; the newest version is looked up again after the TTL.
   */
  private readonly resolved = new Map<string, { encoder: Promise<Encoder>; until: number }>();

  constructor(
    private readonly store: ModelStore,
    private readonly sessions: SessionCache,
    private readonly batcherOptions: BatcherOptions,
    private readonly logger: Logger,
    /**
     * How long "the newest version of a model" stays resolved before the store is listed again: a new
     * version (a pruned or retrained model) is served within this time; calls in between do no file I/O.
     */
    private readonly newestVersionTtlMs = 5000,
    /** Milliseconds on a monotonic clock, for that TTL; a test steps its own instead of sleeping. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  async get(name: string, version: string): Promise<Encoder> {
    const request = `${name}\u0000${version}`;
    const hit = this.resolved.get(request);
    if (hit && hit.until > this.now()) return hit.encoder;
    const encoder = this.resolve(name, version);
    this.resolved.set(request, {
      encoder,
      until: version === '' ? this.now() + this.newestVersionTtlMs : Number.POSITIVE_INFINITY,
    });
    encoder.catch(() => this.resolved.delete(request));
    return encoder;
  }

  private async resolve(name: string, version: string): Promise<Encoder> {
    const model = await this.store.resolve(name, version);
    const key = `${model.name}/${model.version}`;
    let encoder = this.encoders.get(key);
    if (!encoder) {
      encoder = this.load(model);
      this.encoders.set(key, encoder);
      encoder.catch(() => this.encoders.delete(key));
    }
    return encoder;
  }

  async list(): Promise<EmbeddingModelInfo[]> {
    const all = await this.store.list();
    return all.filter((m) => embeddingTasks.has(m.manifest.task)).map(embeddingInfo);
  }

  /** Loads and runs every listed model once, so the first real call does not pay for it. */
  async warmUp(names: string[]): Promise<void> {
    for (const name of names) {
      const encoder = await this.get(name, '');
      await encoder.embed([encoder.encode('warm up the encoder')], new AbortController().signal);
      this.logger.info('model warmed up', { model: `${encoder.info.name}/${encoder.info.version}` });
    }
  }

  private async load(model: StoredModel): Promise<Encoder> {
    const info = embeddingInfo(model);
    const pre = model.manifest.preprocessing ?? {};
    const graph = await this.sessions.get(model);
    const inputNames = graph.session.inputNames;
    let featurizer: Featurizer;
    try {
      featurizer = await createFeaturizer(model.dir, pre, inputNames);
    } catch (err) {
      throw new SiftError('failed_precondition', `model ${model.name}/${model.version}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const outputName = typeof pre.outputName === 'string' ? pre.outputName : (graph.session.outputNames[0] ?? '');
    const pooling = pre.pooling === 'cls' ? 'cls' : 'mean';
    const run = async (feeds: Record<string, FeedTensor>) => {
      const wanted = Object.fromEntries(Object.entries(feeds).filter(([k]) => inputNames.includes(k)));
      const results = await runOutputs(graph.session, toOrtFeeds(wanted), [outputName]);
      return float32Output(results, outputName);
    };
    this.logger.info('embedding model loaded', { model: `${info.name}/${info.version}`, provider: graph.provider });
    return new OnnxEncoder(info, featurizer, run, pooling, this.batcherOptions);
  }
}
