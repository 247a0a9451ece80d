import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
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
    ['a lone surrogate escape', '{"input": ["ok", "\\ud800"]}', 400, 'the value of "1" holds a lone UTF-16 surrogate'],
    [
      'a body that is not UTF-8 (Latin-1 "café")',
      Buffer.from('{"input": "caf\xe9"}', 'latin1'),
      400,
      'not valid UTF-8',
    ],
    ['a non-string input', { input: [1, 2] }, 400, 'input must be a string'],
    ['an unknown model', { input: 'x', model: 'nope' }, 404, 'unknown model "nope"'],
    ['dimensions above the model', { input: 'x', dimensions: 4096 }, 400, 'dimensions: 4096'],
    ['dimensions beyond 32 bits', { input: 'x', dimensions: 2 ** 32 }, 400, 'dimensions must be a positive integer'],
    ['a malformed model reference', { input: 'x', model: 'glove-sif-100d@1@2' }, 400, 'model must be "name"'],
    [
      'more inputs than one call may carry',
      { input: Array(2049).fill('x') },
      400,
      'input: 2049 inputs exceed the limit of 2048 per call',
    ],
  ])('maps %s to its HTTP status with an actionable message', async (_name, body, code, message) => {
    const res = await fetch(`${platform.gatewayUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    expect(res.status).toBe(code);
    const err = (await res.json()) as { error: { message: string } };
    expect(err.error.message).toContain(message);
  });

  it('flags inputs the model cannot read: fed_tokens 0 and a zero vector', async () => {
    const res = await post({ input: ['😀 😀', 'A man plays a guitar.'] });
    const body = (await res.json()) as { data: { embedding: number[] }[]; sift: { fed_tokens: number[] } };
    expect(body.sift.fed_tokens).toEqual([0, 3]); // GloVe has no one-letter words: 'a' is not read
    expect(Math.hypot(...(body.data[0]?.embedding ?? []))).toBe(0);
    expect(Math.hypot(...(body.data[1]?.embedding ?? []))).toBeCloseTo(1, 5);
  });

  it('refuses a body above the limit with 413', async () => {
    const res = await post({ input: 'z'.repeat(9 * 1024 * 1024) });
    expect(res.status).toBe(413);
  });

  it('answers 413 to a chunked body above the limit, then serves the same client again', async () => {
    // One keep-alive socket at a time: the second request reuses the first one's connection, which the
    // gateway must leave readable (it drops the rest of the refused body) rather than tear down.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Buffer[], chunked: boolean) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const headers: Record<string, string | number> = { 'content-type': 'application/json' };
        if (!chunked) headers['content-length'] = Buffer.concat(body).length;
        const req = request(`${platform.gatewayUrl}/v1/embeddings`, { method: 'POST', agent, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        for (const piece of body) req.write(piece);
        req.end();
      });
    try {
      const big = await send(
        Array.from({ length: 9 }, () => Buffer.alloc(1024 * 1024, 0x20)),
        true,
      );
      expect(big.status).toBe(413);
      const next = await send([Buffer.from(JSON.stringify({ input: 'still serving' }))], false);
      expect(next.status).toBe(200);
      expect(JSON.parse(next.text).data).toHaveLength(1);
    } finally {
      agent.destroy();
    }
  });

  it('answers 405 with the allowed methods for a known path, and refuses a body field it does not know', async () => {
    const wrongMethod = await fetch(`${platform.gatewayUrl}/v1/embeddings`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    // The error body every refusal has: type and code are the kind.
    expect(await wrongMethod.json()).toEqual({
      error: {
        message: 'GET /v1/embeddings: this path takes POST',
        type: 'invalid_argument',
        code: 'invalid_argument',
      },
    });
    // A misspelt "dimensions" would otherwise return full vectors without a word.
    const typo = await post({ input: 'hello', dimension: 8 });
    expect(typo.status).toBe(400);
    expect(((await typo.json()) as { error: { message: string } }).error.message).toBe(
      'unknown field "dimension"; the body takes input, model, encoding_format, dimensions, user',
    );
  });

  it('answers a URL over the header limit with 431 and the JSON error body', async () => {
    // Node's parser refuses it before any route runs; the gateway still answers in its error envelope.
    const res = await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_token=${'x'.repeat(20_000)}`);
    expect(res.status).toBe(431);
    expect(await res.json()).toEqual({
      error: {
        message: 'the request line and headers exceed 16384 bytes; send long parameters in a POST body',
        type: 'invalid_argument',
        code: 'invalid_argument',
      },
    });
  });

  it('echoes at most 200 characters of a 100,000-character model name in its 404', async () => {
    const res = await post({ input: 'x', model: 'm'.repeat(100_000) });
    expect(res.status).toBe(404);
    const { message } = ((await res.json()) as { error: { message: string } }).error;
    expect(message).toMatch(/^unknown model "m{200}…"; the store has: /);
    expect(message.length).toBeLessThan(1000);
  });

  it('records a client that leaves mid-body as cancelled, without an error log', async () => {
    // The body announces 1000 bytes; the client sends a few and closes the connection.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(new URL(platform.gatewayUrl).port), '127.0.0.1', () => {
        socket.write(
          'POST /v1/embeddings HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n' +
            'content-length: 1000\r\n\r\n{"input": ["the start of',
          () => {
            socket.destroy();
            resolve();
          },
        );
      });
      socket.on('error', reject);
    });
    const gateway = platform.children.find((c) => c.name === 'gateway');
    await waitUntil(async () => (gateway?.logs ?? []).some((l) => l.includes('"msg":"client went away"')), 10_000);
    const line = gateway?.logs.find((l) => l.includes('"msg":"client went away"')) ?? '{}';
    expect(JSON.parse(line)).toMatchObject({ level: 'info', route: 'POST /v1/embeddings' });
    expect(line).not.toContain('stack');
    expect(gateway?.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });

  // This gateway runs without SIFT_SELECTION_ADDRESS and SIFT_PRUNING_ADDRESS: their routes exist but have no
  // upstream to call.
  it.each([
    ['GET', '/v1/selection/jobs', 'selection', 'SIFT_SELECTION_ADDRESS'],
    ['POST', '/v1/selection/jobs', 'selection', 'SIFT_SELECTION_ADDRESS'],
    ['POST', '/v1/selection/jobs/job-zzzz-00000000/cancel', 'selection', 'SIFT_SELECTION_ADDRESS'],
    ['GET', '/v1/pruning/jobs', 'pruning', 'SIFT_PRUNING_ADDRESS'],
    ['POST', '/v1/pruning/analyses', 'pruning', 'SIFT_PRUNING_ADDRESS'],
  ])(
    'answers %s %s with 503 and the error body when its service is not configured',
    async (method, path, service, key) => {
      const res = await fetch(`${platform.gatewayUrl}${path}`, {
        method,
        ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        error: {
          message: `the ${service} service is not configured (${key})`,
          type: 'unavailable',
          code: 'unavailable',
        },
      });
    },
  );

  it('leaves a row in ClickHouse `requests` for each request, written by the metrics consumer', async () => {
    await post({ input: ['one', 'two', 'three', 'four'] });
    // Wait until the services have published all 33 requests (24 gateway requests so far, the health check
    // included, 9 of which reached the embedding service; the 431 is answered before any route; they come in
    // batches every 250 ms), and the consumer has stored and acknowledged every batch on the stream.
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
      return published >= 33 && lag.pending === 0 && lag.ackPending === 0;
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
        query: `SELECT service, method, status, http_status, batch_size, model_name FROM requests ORDER BY finished_at`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{
        service: string;
        method: string;
        status: string;
        http_status: number;
        batch_size: number;
        model_name: string;
      }>();
      expect(rows).toContainEqual({
        service: 'gateway',
        method: 'POST /v1/embeddings',
        status: 'OK',
        http_status: 200,
        batch_size: 4,
        model_name: 'glove-sif-100d',
      });
      expect(rows).toContainEqual({
        service: 'embedding',
        method: 'Embed',
        status: 'OK',
        http_status: 0,
        batch_size: 4,
        model_name: 'glove-sif-100d',
      });
      expect(rows).toContainEqual({
        service: 'embedding',
        method: 'Embed',
        status: 'INVALID_ARGUMENT',
        http_status: 0,
        batch_size: 2049,
        model_name: '',
      });
      // A client that left mid-body is no gateway fault: CANCELLED (499), not INTERNAL.
      expect(rows).toContainEqual({
        service: 'gateway',
        method: 'POST /v1/embeddings',
        status: 'CANCELLED',
        http_status: 499,
        batch_size: 0,
        model_name: '',
      });
      expect(rows.filter((r) => r.status === 'INTERNAL')).toEqual([]);
      // The body over the size limit is told from a full queue by its HTTP status (both RESOURCE_EXHAUSTED).
      const tooLarge = rows.filter((r) => r.service === 'gateway' && r.status === 'RESOURCE_EXHAUSTED');
      expect(tooLarge.length).toBeGreaterThan(0);
      for (const r of tooLarge) expect(r.http_status).toBe(413);
      expect(rows.filter((r) => r.service === 'gateway' && r.method === 'GET /healthz')).toHaveLength(1);
      // The two unknown models ("nope" and the 100,000-character name).
      expect(rows.filter((r) => r.service === 'gateway' && r.status === 'NOT_FOUND')).toHaveLength(2);
      // The five requests to services this gateway lacks, under their routes' names.
      expect(
        rows
          .filter((r) => r.service === 'gateway' && r.status === 'UNAVAILABLE')
          .map((r) => r.method)
          .sort(),
      ).toEqual([
        'GET /v1/pruning/jobs',
        'GET /v1/selection/jobs',
        'POST /v1/pruning/analyses',
        'POST /v1/selection/jobs',
        'POST /v1/selection/jobs/{id}/cancel',
      ]);
      expect(
        rows.filter((r) => r.service === 'gateway' && r.status === 'INVALID_ARGUMENT').length,
      ).toBeGreaterThanOrEqual(3);
    } finally {
      await store.close();
    }
  });
});
