import { Bus, type Subject, subjects } from '@sift/bus';
import type { Logger } from '@sift/kit';
import { BatchedWriter, migrate, openMetricsStore } from '@sift/metrics';
import type { MetricsConsumerConfig } from './config.js';
import { decisionRows, pruningRunRow, requestRow } from './rows.js';
import { storeDeliveries, type TableDelivery } from './store-deliveries.js';

/** A running metrics consumer. */
export interface MetricsConsumer {
  /** Stops consuming, writes what is buffered, acks it, and closes NATS and ClickHouse. */
  stop(): Promise<void>;
}

/**
 * Moves metric events from the SIFT_METRICS stream into ClickHouse. Each event is acked only after its rows
 * are inserted, so a crash loses nothing (at-least-once: a crash between insert and ack repeats rows). Rows
 * with values their columns cannot hold are nulled or skipped, and an event ClickHouse keeps rejecting is
 * dropped after `maxDeliveries` (see storeDeliveries).
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
  // storeDeliveries sizes each insert (whole events, config.batchRows rows): the writer must not split it.
  const writer = new BatchedWriter(client, { maxRows: Number.MAX_SAFE_INTEGER });
  const storeAnswers = async () => (await client.ping()).success;
  const bus = await Bus.connect(config.natsUrl, 'sift-metrics-consumer');
  const pullError = (what: string) => (err: unknown) =>
    logger.warn(`cannot pull ${what} from NATS; retrying`, { reason: (err as Error).message });
  const limits = { maxRows: config.batchRows, maxDeliveries: config.maxDeliveries, retryDelayMs: config.retryDelayMs };
  const consumeInto = <T>(
    subject: Subject<T>,
    durable: string,
    table: string,
    rowsOf: TableDelivery<T>['rowsOf'],
    what: string,
    maxBatch?: number,
  ) => {
    const how: TableDelivery<T> = { table, event: subject.name, rowsOf, ...limits };
    return bus.consume(subject, durable, (batch) => storeDeliveries(storeAnswers, writer, how, batch, logger), {
      ...(maxBatch ? { maxBatch } : {}),
      onError: (err) => logger.error(`storing ${what} failed, ClickHouse does not answer; will retry`, { err }),
      onPullError: pullError(what),
      onUndecodable: (err) => logger.warn(`dropped an undecodable ${what} event`, { err }),
    });
  };
  const stopRequests = await consumeInto(
    subjects.requestsCompleted,
    'metrics-requests',
    'requests',
    (m, at) => m.requests.map((r) => requestRow(r, at)),
    'requests',
  );
  const stopDecisions = await consumeInto(
    subjects.selectionRecordsDecided,
    'metrics-selection-decisions',
    'selection_decisions',
    decisionRows,
    'selection decisions',
    20,
  );
  const stopPruningRuns = await consumeInto(
    subjects.pruningRunCompleted,
    'metrics-pruning-runs',
    'pruning_runs',
    (m, at) => [pruningRunRow(m, at)],
    'pruning runs',
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
