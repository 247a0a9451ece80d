import { key, loadConfig, SiftError } from '@sift/kit';

/** Every setting of the embedding service; the only reader of process.env in this deployable. */
export const embeddingConfigSpec = {
  host: key.string('SIFT_EMBEDDING_HOST', '127.0.0.1', 'interface the gRPC server binds'),
  port: key.port('SIFT_EMBEDDING_PORT', 50051, 'gRPC port; 0 picks a free one'),
  modelsDir: key.string('SIFT_MODELS_DIR', 'models', 'model store root (<name>/<version>/model.json)'),
  defaultModel: key.string('SIFT_EMBEDDING_DEFAULT_MODEL', 'glove-sif-100d', 'model used when a request names none'),
  warmModels: key.string('SIFT_EMBEDDING_WARM_MODELS', 'glove-sif-100d', 'comma-separated models loaded at start'),
  newestVersionTtlMs: key.int(
    'SIFT_EMBEDDING_NEWEST_VERSION_TTL_MS',
    5000,
    'how long a request without a version keeps the newest version it resolved before the store is listed again',
  ),
  provider: key.oneOf('SIFT_EXECUTION_PROVIDER', 'cpu', ['cpu', 'cuda'] as const, 'ONNX Runtime provider to request'),
  intraOpThreads: key.int('SIFT_ORT_THREADS', 0, 'CPU threads per model call; 0 = ONNX Runtime default'),
  sessionThread: key.oneOf(
    'SIFT_EMBEDDING_SESSION_THREAD',
    'main',
    ['main', 'worker'] as const,
    'thread that runs the models: main (lowest per-call cost) or worker (event loop free during model calls)',
  ),
  maxBatchSize: key.int('SIFT_EMBEDDING_MAX_BATCH', 64, 'most inputs in one model call', 1),
  maxBatchTokens: key.int('SIFT_EMBEDDING_MAX_BATCH_TOKENS', 16384, 'most padded tokens in one model call', 1),
  maxQueueDelayMs: key.number(
    'SIFT_EMBEDDING_MAX_QUEUE_DELAY_MS',
    0,
    'longest wait for company while the model is idle',
    0,
  ),
  maxQueueItems: key.int('SIFT_EMBEDDING_MAX_QUEUE', 8192, 'inputs allowed to wait; beyond: RESOURCE_EXHAUSTED', 1),
  batching: key.oneOf('SIFT_EMBEDDING_BATCHING', 'dynamic', ['dynamic', 'per-request'] as const, 'batching mode'),
  maxInputsPerCall: key.int('SIFT_EMBEDDING_MAX_INPUTS', 2048, 'most inputs in one Embed call', 1),
  maxInputChars: key.int('SIFT_EMBEDDING_MAX_INPUT_CHARS', 200_000, 'longest single input in characters', 1),
  maxMessageBytes: key.int('SIFT_GRPC_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 'largest gRPC message', 1024),
  maxStreamChunksInFlight: key.int(
    'SIFT_EMBEDDING_STREAM_CHUNKS_IN_FLIGHT',
    4,
    'chunks of one EmbedStream computed at once',
    1,
  ),
  natsUrl: key.string('SIFT_NATS_URL', '', 'NATS server(s) for metric events; empty disables them'),
  logLevel: key.oneOf('SIFT_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const, 'log level'),
};

export function loadEmbeddingConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(embeddingConfigSpec, env);
  if (config.maxInputsPerCall > config.maxQueueItems) {
    throw new SiftError(
      'invalid_argument',
      `SIFT_EMBEDDING_MAX_INPUTS (${config.maxInputsPerCall}) is larger than SIFT_EMBEDDING_MAX_QUEUE (${config.maxQueueItems}): a call of the allowed size could never be queued`,
    );
  }
  return config;
}
export type EmbeddingConfig = ReturnType<typeof loadEmbeddingConfig>;
