import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus, subjects } from '@sift/bus';
import { type LocalPlatform, startPlatform, waitUntil } from '@sift/launcher';
import { openMetricsStore } from '@sift/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The whole platform as separate processes: a real NATS server with JetStream, the metrics consumer on
 * embedded ClickHouse, the embedding service and the HTTP gateway, all on free loopback ports.
 */
describe('platform end to end', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let stopped = false;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sift-e2e-'));
    platform = await startPlatform(dataDir);
  });
  afterAll(async () => {
    if (!stopped) await platform?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown) =>
    fetch(`${platform.gatewayUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('reports the gateway and its upstream healthy', async () => {
    const res = await fetch(`${platform.gatewayUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', services: { embedding: 'SERVING' } });
  });

  it('embeds through the OpenAI-compatible route', async () => {
    const res = await post({ input: ['A man plays a guitar.', 'Someone is playing guitar.', 'Taxes rose.'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      object: string;
      data: { index: number; embedding: number[] }[];
      model: string;
      usage: { prompt_tokens: number };
    };
    expect(body.object).toBe('list');
    expect(body.model).toBe('glove-sif-100d@1');
    expect(body.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(body.data[0]?.embedding).toHaveLength(100);
    expect(Math.hypot(...(body.data[0]?.embedding ?? []))).toBeCloseTo(1, 5);
    expect(body.usage.prompt_tokens).toBeGreaterThan(8);
  });

  it('returns base64 vectors when asked', async () => {
    const res = await post({ input: 'hello world', encoding_format: 'base64' });
    const body = (await res.json()) as { data: { embedding: string }[] };
    expect(Buffer.from(body.data[0]?.embedding ?? '', 'base64').length).toBe(400);
  });

  it.each([
    ['malformed JSON', '{"input": [', 400, 'not valid JSON'],
    ['a non-string input', { input: [1, 2] }, 400, 'input must be a string'],
    ['an unknown model', { input: 'x', model: 'nope' }, 404, 'unknown model "nope"'],
    ['dimensions above the model', { input: 'x', dimensions: 4096 }, 400, 'dimensions: 4096'],
  ])('maps %s to HTTP %i with an actionable message', async (_name, body, code, message) => {
    const res = await fetch(`${platform.gatewayUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(res.status).toBe(code);
    const err = (await res.json()) as { error: { message: string } };
    expect(err.error.message).toContain(message);
  });

  it('refuses a body above the limit with 413', async () => {
    const res = await post({ input: 'z'.repeat(9 * 1024 * 1024) });
    expect(res.status).toBe(413);
  });

  it('leaves a row in ClickHouse `requests` for each request, written by the metrics consumer', async () => {
    await post({ input: ['one', 'two', 'three', 'four'] });
    // Wait until the services have published all 13 requests (8 gateway requests so far, health checks not
    // counted, 5 of which reached the embedding service; they come in batches every 250 ms), and the
    // consumer has stored and acknowledged every batch on the stream.
    const bus = await Bus.connect(platform.natsUrl, 'e2e-observer');
    let published = 0;
    const stopCounting = await bus.consume(subjects.requestsCompleted, 'e2e-request-counter', async (batch) => {
      for (const d of batch) {
        published += d.message.requests.length;
        d.ack();
      }
    });
    await waitUntil(async () => {
      const lag = await bus.consumerLag('SIFT_METRICS', 'metrics-requests');
      return published >= 13 && lag.pending === 0 && lag.ackPending === 0;
    }, 20_000);
    await stopCounting();
    await bus.close();
    // Stopping drains the services and makes the consumer store and ack what it holds; the embedded
    // engine allows one process per folder, so the rows are read after it let go.
    await platform.stop();
    stopped = true;
    const store = await openMetricsStore({ embeddedPath: platform.clickhouseDir });
    try {
      const rs = await store.query({
        query: `SELECT service, method, status, batch_size, model_name FROM requests ORDER BY finished_at`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{
        service: string;
        method: string;
        status: string;
        batch_size: number;
        model_name: string;
      }>();
      expect(rows).toContainEqual({
        service: 'gateway',
        method: 'POST /v1/embeddings',
        status: 'OK',
        batch_size: 4,
        model_name: 'glove-sif-100d',
      });
      expect(rows).toContainEqual({
        service: 'embedding',
        method: 'Embed',
        status: 'OK',
        batch_size: 4,
        model_name: 'glove-sif-100d',
      });
      expect(rows.filter((r) => r.service === 'gateway' && r.status === 'NOT_FOUND')).toHaveLength(1);
      expect(
        rows.filter((r) => r.service === 'gateway' && r.status === 'INVALID_ARGUMENT').length,
      ).toBeGreaterThanOrEqual(3);
    } finally {
      await store.close();
    }
  });
});
