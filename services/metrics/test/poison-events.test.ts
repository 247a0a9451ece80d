import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus, subjects } from '@sift/bus';
import type { commonV1 } from '@sift/contracts';
import type { Logger } from '@sift/kit';
import { startNats, waitUntil } from '@sift/launcher';
import { BatchedWriter, migrate, openMetricsStore } from '@sift/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMetricsConsumerConfig } from '../src/config.js';
import { startMetricsConsumer } from '../src/consumer.js';
import { storeDeliveries } from '../src/store-deliveries.js';

/** A logger that keeps its lines, to check what was reported. */
function recordingLogger(lines: { level: string; msg: string; fields?: Record<string, unknown> }[]): Logger {
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, ...(fields ? { fields } : {}) });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

const request = (method: string, batchSize: number): commonV1.RequestCompleted => ({
  service: 'embedding',
  method,
  status: 'OK',
  latencyMs: 3,
  batchSize,
  model: undefined,
  finishedAtMs: Date.now(),
  httpStatus: 0,
});

describe('metrics consumer with poison events, on NATS and the embedded ClickHouse', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sift-metrics-poison-'));
  let nats: Awaited<ReturnType<typeof startNats>>;
  let bus: Bus;
  beforeAll(async () => {
    nats = await startNats();
    bus = await Bus.connect(nats.url, 'metrics-poison-test');
  });
  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const drained = (durable: string) => async () => {
    const lag = await bus.consumerLag('SIFT_METRICS', durable);
    return lag.pending === 0 && lag.ackPending === 0;
  };
  /** Rows per method in `requests`; the store is opened only while no consumer holds the embedded folder. */
  const rowsPerMethod = async () => {
    const client = await openMetricsStore({ embeddedPath: dataDir });
    try {
      const rs = await client.query({
        query: 'SELECT method, count() AS n FROM requests GROUP BY method ORDER BY method',
        format: 'JSONEachRow',
      });
      return Object.fromEntries((await rs.json<{ method: string; n: string }>()).map((r) => [r.method, Number(r.n)]));
    } finally {
      await client.close();
    }
  };

  it('stores the good events around one with batch size -5 exactly once, warns once, and drains the consumer', async () => {
    const lines: Parameters<typeof recordingLogger>[0] = [];
    const config = loadMetricsConsumerConfig({ SIFT_NATS_URL: nats.url, SIFT_METRICS_DATA_DIR: dataDir });
    const consumer = await startMetricsConsumer(config, recordingLogger(lines));
    try {
      await bus.publish(subjects.requestsCompleted, { requests: [request('good-1', 1)] });
      await bus.publish(subjects.requestsCompleted, { requests: [request('poison', -5)] });
      await bus.publish(subjects.requestsCompleted, { requests: [request('good-2', 2)] });
      await waitUntil(drained('metrics-requests'), 30_000);
    } finally {
      await consumer.stop();
    }
    expect(await rowsPerMethod()).toEqual({ 'good-1': 1, 'good-2': 1 });
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.fields)).toEqual([
      { event: 'sift.common.v1.requests_completed', sequence: 2, field: 'batch_size', value: '-5' },
    ]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('drops an event ClickHouse keeps rejecting after its last delivery, naming subject and sequence', async () => {
    // Rows that skip the checks, so ClickHouse itself rejects the poison ("Unsigned type must not contain '-'").
    const unchecked = (m: commonV1.RequestsCompleted, at: number) =>
      m.requests.map((r) => ({
        row: { finished_at: at, service: r.service, method: `unchecked-${r.method}`, status: r.status },
        problems: [],
      }));
    const poisonRows = (m: commonV1.RequestsCompleted, at: number) =>
      unchecked(m, at).map((c, i) => ({ ...c, row: { ...c.row, batch_size: m.requests[i]?.batchSize } }));
    const lines: Parameters<typeof recordingLogger>[0] = [];
    const logger = recordingLogger(lines);
    const client = await openMetricsStore({ embeddedPath: dataDir });
    await migrate(client);
    const writer = new BatchedWriter(client, { maxRows: Number.MAX_SAFE_INTEGER });
    const how = {
      table: 'requests',
      event: subjects.requestsCompleted.name,
      rowsOf: poisonRows,
      maxRows: 100,
      maxDeliveries: 3,
      retryDelayMs: 100,
    };
    const stop = await bus.consume(subjects.requestsCompleted, 'metrics-unchecked', (batch) =>
      storeDeliveries(async () => (await client.ping()).success, writer, how, batch, logger),
    );
    try {
      // The first test's three events (sequences 1-3) come first on this new consumer, then these three.
      await bus.publish(subjects.requestsCompleted, { requests: [request('good-3', 3)] });
      await bus.publish(subjects.requestsCompleted, { requests: [request('poison', -5)] });
      await bus.publish(subjects.requestsCompleted, { requests: [request('good-4', 4)] });
      await waitUntil(async () => lines.filter((l) => l.level === 'error').length === 2, 30_000);
      await waitUntil(drained('metrics-unchecked'), 30_000);
    } finally {
      await stop();
      await client.close();
    }
    expect(await rowsPerMethod()).toMatchObject({
      'unchecked-good-1': 1,
      'unchecked-good-2': 1,
      'unchecked-good-3': 1,
      'unchecked-good-4': 1,
    });
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => [l.msg, l.fields?.subject])).toEqual([
      ['dropped a sift.common.v1.requests_completed event after 3 failed deliveries', subjects.requestsCompleted.name],
      ['dropped a sift.common.v1.requests_completed event after 3 failed deliveries', subjects.requestsCompleted.name],
    ]);
    expect(errors.map((l) => l.fields?.sequence).sort()).toEqual([2, 5]);
  });
});
