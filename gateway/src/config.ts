import { key, loadConfig } from '@sift/kit';

/** Every setting of the HTTP gateway; the only reader of process.env in this deployable. */
export const gatewayConfigSpec = {
  host: key.string('SIFT_GATEWAY_HOST', '127.0.0.1', 'interface the HTTP server binds'),
  port: key.port('SIFT_GATEWAY_PORT', 8080, 'HTTP port; 0 picks a free one'),
  embeddingAddress: key.string('SIFT_EMBEDDING_ADDRESS', '127.0.0.1:50051', 'embedding service host:port'),
  selectionAddress: key.string('SIFT_SELECTION_ADDRESS', '', 'selection service host:port; empty disables its routes'),
  pruningAddress: key.string('SIFT_PRUNING_ADDRESS', '', 'pruning service host:port; empty disables its routes'),
  maxBodyBytes: key.int('SIFT_GATEWAY_MAX_BODY_BYTES', 8 * 1024 * 1024, 'largest request body; beyond: 413', 1),
  upstreamTimeoutMs: key.int('SIFT_GATEWAY_UPSTREAM_TIMEOUT_MS', 30_000, 'deadline of each upstream gRPC call', 1),
  maxMessageBytes: key.int('SIFT_GRPC_MAX_MESSAGE_BYTES', 16 * 1024 * 1024, 'largest gRPC message', 1024),
  natsUrl: key.string('SIFT_NATS_URL', '', 'NATS server(s) for request metrics; empty disables them'),
  logLevel: key.oneOf('SIFT_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const, 'log level'),
};

export const loadGatewayConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(gatewayConfigSpec, env);
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
