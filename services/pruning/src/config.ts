import { key, loadConfig } from '@sift/kit';

/** Every setting of the pruning service; the only reader of process.env in this deployable. */
export const pruningConfigSpec = {
  host: key.string('SIFT_PRUNING_HOST', '127.0.0.1', 'interface the gRPC server binds'),
  port: key.port('SIFT_PRUNING_PORT', 50056, 'gRPC port; 0 picks a free one'),
  dataDir: key.string('SIFT_PRUNING_DATA_DIR', '.data/pruning', 'job state and reports folder, shared by replicas'),
  modelsDir: key.string(
    'SIFT_MODELS_DIR',
    'models',
    'model store root: source models are read and pruned ones written',
  ),
  natsUrl: key.string('SIFT_NATS_URL', 'nats://127.0.0.1:4222', 'NATS server(s): job queue and events'),
  worker: key.bool('SIFT_PRUNING_WORKER', true, 'take jobs from the queue in this process'),
  ackWaitMs: key.int('SIFT_PRUNING_ACK_WAIT_MS', 30_000, "a dead worker's job is redelivered after this", 500),
  dataRoots: key.string(
    'SIFT_DATA_ROOTS',
    '',
    'comma-separated folders calibration and evaluation texts may be read from; empty allows any path',
  ),
  provider: key.oneOf(
    'SIFT_EXECUTION_PROVIDER',
    'cpu',
    ['cpu', 'cuda'] as const,
    'ONNX Runtime provider for analysis, healing and evaluation sessions',
  ),
  threads: key.int('SIFT_PRUNING_THREADS', 2, 'ONNX Runtime intra-op threads per session', 1),
  maxMessageBytes: key.int('SIFT_GRPC_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 'largest gRPC message', 1024),
  logLevel: key.oneOf('SIFT_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const, 'log level'),
};

export const loadPruningConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(pruningConfigSpec, env);
export type PruningConfig = ReturnType<typeof loadPruningConfig>;
