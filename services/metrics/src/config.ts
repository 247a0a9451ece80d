import { key, loadConfig } from '@sift/kit';

/** Every setting of the metrics consumer; the only reader of process.env in this deployable. */
export const metricsConsumerConfigSpec = {
  natsUrl: key.string('SIFT_NATS_URL', 'nats://127.0.0.1:4222', 'NATS server(s), comma-separated'),
  clickhouseUrl: key.string('SIFT_CLICKHOUSE_URL', '', 'ClickHouse server URL; empty uses the embedded engine'),
  clickhouseDatabase: key.string('SIFT_CLICKHOUSE_DATABASE', 'default', 'database on the ClickHouse server'),
  dataDir: key.string('SIFT_METRICS_DATA_DIR', '.data/clickhouse', 'folder of the embedded ClickHouse (chdb)'),
  batchRows: key.int('SIFT_METRICS_BATCH_ROWS', 5000, 'most rows per ClickHouse insert', 1),
  maxDeliveries: key.int(
    'SIFT_METRICS_MAX_DELIVERIES',
    10,
    'deliveries after which an event ClickHouse keeps rejecting is dropped (with an error line)',
    1,
  ),
  retryDelayMs: key.int(
    'SIFT_METRICS_RETRY_DELAY_MS',
    1000,
    'wait before retrying a rejected event, doubled each time',
    1,
  ),
  logLevel: key.oneOf('SIFT_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const, 'log level'),
};

export const loadMetricsConsumerConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(metricsConsumerConfigSpec, env);
export type MetricsConsumerConfig = ReturnType<typeof loadMetricsConsumerConfig>;
