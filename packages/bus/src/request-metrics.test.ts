import type { commonV1 } from '@sift/contracts';
import { createLogger, type FinishedCall } from '@sift/kit';
import { startNats, waitUntil } from '@sift/launcher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { RequestMetricsPublisher } from './request-metrics.js';
import { subjects } from './subjects.js';

const call = (i: number): FinishedCall => ({
  service: 'embedding',
  method: 'Embed',
  status: i % 5 === 0 ? 'INVALID_ARGUMENT' : 'OK',
  latencyMs: 1.5 + i,
  batchSize: 4,
  model: { name: 'glove-sif-100d', version: '1' },
});

describe('RequestMetricsPublisher on a real NATS server', () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let bus: Bus;
  let batches: commonV1.RequestsCompleted[];
  let stopConsuming: () => Promise<void>;
  beforeAll(async () => {
    nats = await startNats();
    bus = await Bus.connect(nats.url, 'request-metrics-test');
    batches = [];
    stopConsuming = await bus.consume(subjects.requestsCompleted, 'test-reader', async (deliveries) => {
      for (const d of deliveries) {
        batches.push(d.message);
        d.ack();
      }
    });
  });
  afterAll(async () => {
    await stopConsuming();
    await bus.close();
    await nats.stop();
  });

  it('publishes the calls of a quiet period together, a full batch at once, and what is left on close', async () => {
    const logger = createLogger('request-metrics-test', 'warn');
    const publisher = new RequestMetricsPublisher(bus, logger, { maxDelayMs: 100, maxBatch: 50 });
    for (let i = 0; i < 3; i++) publisher.record(call(i));
    await waitUntil(async () => batches.length === 1, 5_000, 20);
    expect(batches[0]?.requests.map((r) => r.latencyMs)).toEqual([1.5, 2.5, 3.5]);
    expect(batches[0]?.requests[0]).toMatchObject({
      service: 'embedding',
      method: 'Embed',
      status: 'INVALID_ARGUMENT',
      batchSize: 4,
      model: { name: 'glove-sif-100d', version: '1' },
    });

    // 120 calls at once (a publisher that would wait a minute): two full batches of 50 right away; the last
    // 20 are published by close().
    await publisher.close();
    const patient = new RequestMetricsPublisher(bus, logger, { maxDelayMs: 60_000, maxBatch: 50 });
    for (let i = 0; i < 120; i++) patient.record(call(i));
    await waitUntil(async () => batches.length === 3, 5_000, 20);
    expect(batches.slice(1).map((b) => b.requests.length)).toEqual([50, 50]);
    await patient.close();
    await waitUntil(async () => batches.length === 4, 5_000, 20);
    expect(batches[3]?.requests).toHaveLength(20);
    expect(batches.reduce((n, b) => n + b.requests.length, 0)).toBe(123);
  });
});
