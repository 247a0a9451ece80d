import { key, loadConfig } from '@sift/kit';

/** Every setting of the selection service; the only reader of process.env in this deployable. */
export const selectionConfigSpec = {
  host: key.string('SIFT_SELECTION_HOST', '127.0.0.1', 'interface the gRPC server binds'),
  port: key.port('SIFT_SELECTION_PORT', 50052, 'gRPC port; 0 picks a free one'),
  dataDir: key.string('SIFT_SELECTION_DATA_DIR', '.data/selection', 'job state folder, shared by replicas'),
  modelsDir: key.string('SIFT_MODELS_DIR', 'models', 'model store root, for the text-quality language model'),
  dataRoots: key.string(
    'SIFT_DATA_ROOTS',
    '',
    'comma-separated folders jobs may read datasets from and write outputs to; empty allows any path',
  ),
  embeddingAddress: key.string('SIFT_EMBEDDING_ADDRESS', '127.0.0.1:50051', 'embedding service host:port'),
  natsUrl: key.string('SIFT_NATS_URL', 'nats://127.0.0.1:4222', 'NATS server(s): job queue and events'),
  provider: key.oneOf(
    'SIFT_EXECUTION_PROVIDER',
    'cpu',
    ['cpu', 'cuda'] as const,
    'ONNX Runtime provider for the clustering and SemDeDup kernels',
  ),
  worker: key.bool('SIFT_SELECTION_WORKER', true, 'take jobs from the queue in this process'),
  ackWaitMs: key.int('SIFT_SELECTION_ACK_WAIT_MS', 30_000, "a dead worker's job is redelivered after this", 500),
  maxMessageBytes: key.int('SIFT_GRPC_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 'largest gRPC message', 1024),
  maxDatasetChars: key.int(
    'SIFT_SELECTION_MAX_DATASET_CHARS',
    600_000_000,
    "most text characters one job holds in memory (~1.7 GB of heap at the default); beyond, the job fails. Raise with the worker's heap (NODE_OPTIONS=--max-old-space-size)",
    1,
  ),
  logLevel: key.oneOf('SIFT_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const, 'log level'),
};

export const loadSelectionConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(selectionConfigSpec, env);
export type SelectionConfig = ReturnType<typeof loadSelectionConfig>;
