import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { commonV1, type embeddingV1 } from '@sift/contracts';
import {
  asSiftError,
  type CallContext,
  requireWellFormed,
  SiftError,
  type StreamHandler,
  type UnaryHandler,
} from '@sift/kit';
import { type EmbedLimits, type EmbedOutcome, embed } from '../domain/embed.js';
import type { EncoderRegistry } from '../ports.js';

/** Thin gRPC adapter: decode, validate, call the domain, encode. */
export function embeddingHandlers(
  registry: EncoderRegistry,
  limits: EmbedLimits,
  maxChunksInFlight: number,
): Record<string, UnaryHandler | StreamHandler> {
  const run = async (req: embeddingV1.EmbedRequest, ctx: CallContext) => {
    // Counted before the work, so a failed call's metric row still says how large it was.
    ctx.report.batchSize += req.inputs.length;
    const outcome = await embed(
      {
        modelName: req.model?.name ?? '',
        modelVersion: req.model?.version ?? '',
        inputs: req.inputs,
        normalize: req.normalize,
        dimensions: req.dimensions,
        rejectLongInputs: req.rejectLongInputs,
      },
      registry,
      limits,
      ctx.signal,
    );
    ctx.report.model = outcome.model;
    return outcome;
  };

  const embedUnary: UnaryHandler<embeddingV1.EmbedRequest, embeddingV1.EmbedResponse> = async (req, ctx) => {
    const started = performance.now();
    return toResponse(await run(req, ctx), performance.now() - started);
  };

  /**
   * Up to `maxChunksInFlight` chunks are computed while the next ones are read; answers go out as they
   * finish. The first failing chunk ends the stream with its status at once, even while the client keeps
   * its side open, and answers of chunks still computing are dropped.
   */
  const embedStream: StreamHandler = async (call, ctx) => {
    const inFlight = new Set<Promise<void>>();
    let failed = false;
    let fail: (err: SiftError) => void = () => {};
    const failure = new Promise<never>((_, reject) => {
      fail = (err) => {
        failed = true;
        reject(err);
      };
    });
    failure.catch(() => {}); // observed through the races below
    // A plain `for await` destroys the duplex stream when reading ends, which would drop the answers still
    // being computed; iterate without destroying and let the server end the call.
    const chunks = (call as unknown as Readable).iterator({ destroyOnReturn: false }) as AsyncIterator<unknown>;
    // Answers wait in the stream's buffer while the client does not read them: once it is full (write
    // returns false), no further chunk is read until it drains, so a client that stops reading stops the work
    // instead of growing the server's memory without bound.
    let drained: Promise<void> | undefined;
    const cancelled = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    for (;;) {
      if (drained) await Promise.race([drained, failure, cancelled]);
      ctx.signal.throwIfAborted();
      const next = await Promise.race([chunks.next(), failure]);
      if (next.done) break;
      const chunk = requireWellFormed(next.value as embeddingV1.EmbedStreamRequest);
      if (!chunk.request) throw new SiftError('invalid_argument', `chunk "${chunk.chunkId}": request is required`);
      const started = performance.now();
      const work = run(chunk.request, ctx).then(
        (outcome) => {
          if (failed) return;
          const response = toResponse(outcome, performance.now() - started);
          if (!call.write({ chunkId: chunk.chunkId, response })) {
            drained ??= once(call, 'drain').then(() => {
              drained = undefined;
            });
          }
        },
        (err: unknown) =>
          fail(
            err instanceof SiftError
              ? new SiftError(err.kind, `chunk "${chunk.chunkId}": ${err.message}`)
              : asSiftError(err),
          ),
      );
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
      if (inFlight.size >= maxChunksInFlight) await Promise.race([...inFlight, failure]);
    }
    await Promise.race([Promise.all(inFlight), failure]);
  };

  const listModels: UnaryHandler<embeddingV1.ListModelsRequest, embeddingV1.ListModelsResponse> = async () => ({
    models: (await registry.list()).map((m) => ({
      model: { name: m.name, version: m.version },
      task: m.task,
      dimensions: m.dimensions,
      maxInputTokens: m.maxInputTokens,
      matryoshka: m.matryoshka,
      description: m.description,
    })),
    defaultModel: limits.defaultModel,
  });

  return { embed: embedUnary, embedStream, listModels };
}

function toResponse(o: EmbedOutcome, totalMs: number): embeddingV1.EmbedResponse {
  return {
    embeddings: {
      dims: [o.tokenCounts.length, o.dims],
      dtype: commonV1.DataType.DATA_TYPE_FLOAT32,
      data: Buffer.from(o.vectors.buffer, o.vectors.byteOffset, o.vectors.byteLength),
    },
    model: o.model,
    tokenCounts: o.tokenCounts,
    fedTokens: o.fedTokens,
    truncated: o.truncated,
    maxInputTokens: o.maxInputTokens,
    timing: { queueMs: o.queueMs, computeMs: o.computeMs, totalMs },
  };
}
