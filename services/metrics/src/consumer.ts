import { Bus, subjects } from '@sift/bus';
import type { Logger } from '@sift/kit';
import { BatchedWriter, migrate, openMetricsStore } from '@sift/metrics';
import type { MetricsConsumerConfig } from './config.js';
import { decisionRows, pruningRunRow, requestRow } from './rows.js';

/** A running metrics consumer. */
export interface MetricsConsumer {
  /** Stops consuming, writes what is buffered, acks it, and closes NATS and ClickHouse. */
  stop(): Promise<void>;
}

/**
 * Moves metric events from the SIFT_METRICS stream into ClickHouse. Each fetched batch is inserted before
 * it is acked, so a crash loses nothing (at-least-once: a crash between insert and ack repeats rows).
 */
export async function startMetricsConsumer(config: MetricsConsumerConfig, logger: Logger): Promise<MetricsConsumer> {
  const client = await openMetricsStore(
    config.clickhouseUrl
      ? { url: config.clickhouseUrl, database: config.clickhouseDatabase }
      : { embeddedPath: config.dataDir },
  );
  const applied = await migrate(client);
  logger.info('metrics store ready', {
    store: config.clickhouseUrl || `embedded:${config.dataDir}`,
    migrationsApplied: applied,
  });
  const writer = new BatchedWriter(client, { maxRows: config.batchRows });
  const bus = await Bus.connect(config.natsUrl, 'sift-metrics-consumer');
  const pullError = (what: string) => (err: unknown) =>
    logger.warn(`cannot pull ${what} from NATS; retrying`, { reason: (err as Error).message });
  const stopRequests = await bus.consume(
    subjects.requestsCompleted,
    'metrics-requests',
    async (batch) => {
      writer.add(
        'requests',
        batch.flatMap((d) => d.message.requests.map(requestRow)),
      );
      await writer.flush('requests');
      for (const d of batch) d.ack();
      logger.debug('requests stored', { rows: batch.length });
    },
    {
      onError: (err) => logger.error('storing requests failed; will retry', { err }),
      onPullError: pullError('requests'),
      onUndecodable: (err) => logger.warn('dropped undecodable request event', { err }),
    },
  );
  const stopDecisions = await bus.consume(
    subjects.selectionRecordsDecided,
    'metrics-selection-decisions',
    async (batch) => {
      writer.add(
        'selection_decisions',
        batch.flatMap((d) => decisionRows(d.message)),
      );
      await writer.flush('selection_decisions');
      for (const d of batch) d.ack();
    },
    {
      maxBatch: 20,
      onError: (err) => logger.error('storing selection decisions failed; will retry', { err }),
      onPullError: pullError('selection decisions'),
      onUndecodable: (err) => logger.warn('dropped undecodable decisions event', { err }),
    },
  );
  const stopPruningRuns = await bus.consume(
    subjects.pruningRunCompleted,
    'metrics-pruning-runs',
    async (batch) => {
      writer.add(
        'pruning_runs',
        batch.map((d) => pruningRunRow(d.message)),
      );
      await writer.flush('pruning_runs');
      for (const d of batch) d.ack();
    },
    {
      onError: (err) => logger.error('storing pruning runs failed; will retry', { err }),
      onPullError: pullError('pruning runs'),
      onUndecodable: (err) => logger.warn('dropped undecodable pruning run event', { err }),
    },
  );
  return {
    async stop() {
      await stopRequests();
      await stopDecisions();
      await stopPruningRuns();
      await bus.close();
      await client.close();
      logger.info('metrics consumer stopped', { rowsWritten: writer.rowsWritten() });
    },
  };
}
