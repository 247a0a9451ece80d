import { resolve } from 'node:path';
import { Bus, RequestMetricsPublisher } from '@sift/bus';
import { embeddingV1 } from '@sift/contracts';
import { ModelStore, SessionCache, skippedManifestLogger } from '@sift/inference';
import { type Logger, SiftError, startGrpcServer } from '@sift/kit';
import { embeddingHandlers } from './adapters/grpc.js';
import { OnnxEncoderRegistry } from './adapters/onnx-encoders.js';
import type { EmbeddingConfig } from './config.js';

/** A running embedding service. */
export interface EmbeddingService {
  readonly port: number;
  /** Calls being served right now. */
  inFlight(): number;
  /** Drains in-flight calls (up to `graceMs`), then releases models and NATS. */
  stop(graceMs?: number): Promise<void>;
}

/** What a test may replace; a deployment passes nothing. */
export interface EmbeddingServiceHooks {
  /** The clock of the newest-version TTL (monotonic milliseconds), so a test can pass the TTL without sleeping. */
  now?: () => number;
}

/** Wires store, sessions, batcher, gRPC and metrics together and starts serving. */
export async function startEmbeddingService(
  config: EmbeddingConfig,
  logger: Logger,
  hooks: EmbeddingServiceHooks = {},
): Promise<EmbeddingService> {
  const store = new ModelStore(resolve(config.modelsDir), skippedManifestLogger(logger));
  const sessions = new SessionCache({
    provider: config.provider,
    logger,
    intraOpThreads: config.intraOpThreads,
    thread: config.sessionThread,
  });
  const registry = new OnnxEncoderRegistry(
    store,
    sessions,
    {
      maxBatchSize: config.maxBatchSize,
      maxBatchTokens: config.maxBatchTokens,
      maxQueueDelayMs: config.maxQueueDelayMs,
      maxQueueItems: config.maxQueueItems,
      mode: config.batching,
    },
    logger,
    config.newestVersionTtlMs,
    hooks.now,
  );
  const warm = config.warmModels
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  await registry.warmUp(warm);
  // Every request that names no model gets the default: a store without it is a deployment error.
  await store.resolve(config.defaultModel).catch((err: unknown) => {
    throw err instanceof SiftError
      ? new SiftError(err.kind, `SIFT_EMBEDDING_DEFAULT_MODEL: ${err.message}`, { cause: err })
      : err;
  });
  const bus = config.natsUrl ? await Bus.connect(config.natsUrl, 'sift-embedding') : undefined;
  const metrics = bus ? new RequestMetricsPublisher(bus, logger) : undefined;
  const server = await startGrpcServer({
    name: 'embedding',
    host: config.host,
    port: config.port,
    logger,
    maxMessageBytes: config.maxMessageBytes,
    services: [
      {
        definition: embeddingV1.EmbeddingServiceService,
        handlers: embeddingHandlers(
          registry,
          {
            maxInputsPerCall: config.maxInputsPerCall,
            maxInputChars: config.maxInputChars,
            defaultModel: config.defaultModel,
          },
          config.maxStreamChunksInFlight,
        ),
      },
    ],
    ...(metrics ? { onCallFinished: metrics.record } : {}),
  });
  return {
    port: server.port,
    inFlight: () => server.inFlight(),
    async stop(graceMs) {
      await server.shutdown(graceMs);
      await sessions.close();
      await metrics?.close();
      await bus?.close();
    },
  };
}
