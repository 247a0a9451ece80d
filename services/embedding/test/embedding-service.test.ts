import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { type Batchable, DynamicBatcher } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEmbeddingConfig } from '../src/config.js';
import { cosine } from '../src/domain/vectors.js';
import { type EmbeddingService, type EmbeddingServiceHooks, startEmbeddingService } from '../src/server.js';
import { embeddingClient, grpcError, rowsOf } from './grpc-client.js';

const modelsDir = new URL('../../../models', import.meta.url).pathname;
const logger = createLogger('embedding-test', 'warn');
const triples: [string, string, string][] = JSON.parse(
  readFileSync(new URL('./fixtures/sentence-triples.json', import.meta.url), 'utf8'),
).triples;

/** A real service on a free port with the repository's model store. */
async function start(env: Record<string, string> = {}, hooks: EmbeddingServiceHooks = {}) {
  const config = loadEmbeddingConfig({
    SIFT_MODELS_DIR: modelsDir,
    SIFT_EMBEDDING_PORT: '0',
    SIFT_EMBEDDING_MAX_INPUTS: '64',
    SIFT_GRPC_MAX_MESSAGE_BYTES: String(1024 * 1024),
    ...env,
  });
  const service = await startEmbeddingService(config, logger, hooks);
  return { service, client: embeddingClient(`127.0.0.1:${service.port}`) };
}

/** Resolves once `check` holds, polling the event loop every few milliseconds (at most 10 s). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}

describe('embedding service over gRPC', () => {
  let service: EmbeddingService;
  let client: ReturnType<typeof embeddingClient>;
  beforeAll(async () => {
    ({ service, client } = await start());
  });
  afterAll(async () => {
    client.close();
    await service.stop();
  });

  it('lists the default text model and the code model with their dimensions', async () => {
    const res = await client.listModels();
    expect(res.defaultModel).toBe('glove-sif-100d');
    const byName = new Map(res.models.map((m) => [m.model?.name, m]));
    expect(byName.get('glove-sif-100d')).toMatchObject({
      task: 'text-embedding',
      dimensions: 100,
      maxInputTokens: 256,
    });
    expect(byName.get('code-ngram')).toMatchObject({ task: 'code-embedding', dimensions: 128, matryoshka: true });
  });

  it('returns packed float32 vectors with their shape, token counts and timing', async () => {
    const res = await client.embed({ inputs: ['The cat sat on the mat.', 'Dogs bark.'], normalize: true });
    expect(res.embeddings?.dims).toEqual([2, 100]);
    expect(res.embeddings?.data.length).toBe(2 * 100 * 4);
    expect(res.model).toEqual({ name: 'glove-sif-100d', version: '1' });
    expect(res.tokenCounts[0]).toBeGreaterThanOrEqual(6);
    expect(res.truncated).toEqual([false, false]);
    for (const row of rowsOf(res)) expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    expect(res.timing?.computeMs).toBeGreaterThan(0);
    expect(res.timing?.totalMs).toBeGreaterThanOrEqual(res.timing?.computeMs ?? 0);
  });

  it('scores each paraphrase closer to its anchor than the unrelated sentence (default model)', async () => {
    const res = await client.embed({ inputs: triples.flat() });
    const rows = rowsOf(res);
    const wins = triples.map((_, i) => {
      const [a, p, u] = [rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]] as [Float32Array, Float32Array, Float32Array];
      return cosine(a, p) > cosine(a, u);
    });
    expect(wins).toEqual(triples.map(() => true));
  });

  it('gives the same vector for a text whether it is embedded alone or in a batch', async () => {
    const alone = rowsOf(await client.embed({ inputs: ['Someone plays an acoustic guitar.'] }))[0];
    const batched = rowsOf(
      await client.embed({
        inputs: ['A long first sentence about guitars and music.', 'Someone plays an acoustic guitar.'],
      }),
    )[1];
    expect(Array.from(batched as Float32Array)).toEqual(Array.from(alone as Float32Array));
  });

  for (const [name, layout] of [
    ['mini-sentence-encoder', 'BERT: WordPiece, token_type_ids, mean pooling'],
    ['mini-xlmr-encoder', 'XLM-R: SentencePiece Unigram, no token_type_ids, <pad> = 1 feeding position ids'],
  ] as const) {
    it(`serves a Hugging Face encoder in the ${layout} layout (${name}) matching its recipe`, async () => {
      const ref = JSON.parse(readFileSync(join(modelsDir, `${name}/1/reference.json`), 'utf8'));
      for (const c of ref.cases as { texts: string[]; pooled: { dims: number[]; data: number[] } }[]) {
        const res = await client.embed({ model: { name, version: '1' }, inputs: c.texts });
        expect(res.embeddings?.dims).toEqual(c.pooled.dims);
        const got = rowsOf(res).flatMap((r) => Array.from(r));
        const maxDiff = Math.max(...got.map((v, i) => Math.abs(v - (c.pooled.data[i] as number))));
        expect(maxDiff).toBeLessThan(1e-4);
      }
    });
  }

  it('truncates Matryoshka dimensions on a code model and renormalises', async () => {
    const res = await client.embed({
      model: { name: 'code-ngram', version: '' },
      inputs: ['def add(a, b):\n    return a + b\n', 'function add(a, b) { return a + b; }'],
      dimensions: 32,
      normalize: true,
    });
    expect(res.embeddings?.dims).toEqual([2, 32]);
    for (const row of rowsOf(res)) expect(Math.hypot(...row)).toBeCloseTo(1, 5);
  });

  it('truncates long inputs and reports it, or rejects them when asked', async () => {
    const long = Array.from({ length: 300 }, (_, i) => (i % 2 ? 'river' : 'mountain')).join(' ');
    const res = await client.embed({ inputs: [long, 'short text'] });
    expect(res.truncated).toEqual([true, false]);
    expect(res.tokenCounts[0]).toBe(300);
    expect(res.maxInputTokens).toBe(256);
    const err = await grpcError(client.embed({ inputs: ['fine', long], rejectLongInputs: true }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toContain('inputs[1] has 300 tokens');
  });

  it('flags inputs the model cannot read (fed_tokens 0, zero vector) and counts characters as code points', async () => {
    // 150,000 emoji are 300,000 UTF-16 units but 150,000 characters: under the 200,000-character limit.
    const res = await client.embed({ inputs: ['😀'.repeat(150_000), 'x', 'The cat sat on the mat.'], normalize: true });
    expect(res.fedTokens).toEqual([0, 0, 6]);
    const [emoji, letter, sentence] = rowsOf(res);
    expect(Math.hypot(...(emoji ?? []))).toBe(0);
    expect(Math.hypot(...(letter ?? []))).toBe(0);
    expect(Math.hypot(...(sentence ?? []))).toBeCloseTo(1, 5);
    const err = await grpcError(client.embed({ inputs: ['😀'.repeat(200_001)] }));
    expect(err.details).toContain('inputs[0] has 200001 characters; the limit is 200000');
  });

  it.each([
    ['an empty input list', { inputs: [] }, status.INVALID_ARGUMENT, 'inputs: at least one input'],
    ['an empty string', { inputs: ['ok', ''] }, status.INVALID_ARGUMENT, 'inputs[1] is empty'],
    ['a whitespace-only string', { inputs: ['ok', ' \t\n'] }, status.INVALID_ARGUMENT, 'inputs[1] is only whitespace'],
    ['a batch above the maximum', { inputs: Array(65).fill('x') }, status.INVALID_ARGUMENT, 'limit of 64 per call'],
    [
      'an unknown model',
      { model: { name: 'no-such-model', version: '' }, inputs: ['x'] },
      status.NOT_FOUND,
      'unknown model "no-such-model"',
    ],
    [
      'an unknown version',
      { model: { name: 'glove-sif-100d', version: '7' }, inputs: ['x'] },
      status.NOT_FOUND,
      'no version "7"',
    ],
    [
      'dimensions above the model',
      { inputs: ['x'], dimensions: 512 },
      status.INVALID_ARGUMENT,
      'dimensions: 512 exceeds the 100',
    ],
    [
      'Matryoshka on a model without it',
      { inputs: ['x'], dimensions: 50 },
      status.INVALID_ARGUMENT,
      'not trained for Matryoshka',
    ],
    [
      'a payload above the message limit',
      { inputs: ['y'.repeat(2 * 1024 * 1024)] },
      status.RESOURCE_EXHAUSTED,
      /^Received message larger than max \(\d+ vs 1048576\)$/,
    ],
  ])('answers %s with a precise status and keeps serving', async (_case, req, code, message) => {
    const err = await grpcError(client.embed(req));
    expect(err.code).toBe(code);
    expect(err.details).toMatch(message);
    const ok = await client.embed({ inputs: ['still serving'] });
    expect(ok.embeddings?.dims).toEqual([1, 100]);
  });

  it('answers each EmbedStream chunk with the vectors a unary call gives', async () => {
    const call = client.client.embedStream();
    const answers = new Map<string, Float32Array[]>();
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: { chunkId: string; response: Parameters<typeof rowsOf>[0] }) =>
        answers.set(m.chunkId, rowsOf(m.response)),
      );
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    const chunks = Array.from({ length: 12 }, (_, i) => [`chunk ${i} first sentence`, `another sentence number ${i}`]);
    chunks.forEach((inputs, i) => {
      call.write({ chunkId: `c${i}`, request: { inputs, normalize: false, dimensions: 0, rejectLongInputs: false } });
    });
    call.end();
    await done;
    expect(answers.size).toBe(12);
    const unary = rowsOf(await client.embed({ inputs: chunks[5] }));
    expect(Array.from(answers.get('c5')?.[1] ?? [])).toEqual(Array.from(unary[1] as Float32Array));
  });

  it('ends an EmbedStream with the status of an invalid chunk at once, naming the chunk', async () => {
    const call = client.client.embedStream();
    const failed = new Promise<{ code: number; details: string }>((resolve) => {
      call.on('data', () => {});
      call.on('error', (e: { code: number; details: string }) => resolve(e));
    });
    call.write({
      chunkId: 'good',
      request: { inputs: ['fine'], normalize: false, dimensions: 0, rejectLongInputs: false },
    });
    call.write({ chunkId: 'bad', request: { inputs: [], normalize: false, dimensions: 0, rejectLongInputs: false } });
    // The client keeps its side open: the status must not wait for it.
    const err = await failed;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toContain('chunk "bad"');
  });

  it('ends an EmbedStream whose chunk is not valid protobuf with INVALID_ARGUMENT', async () => {
    const call = client.client.makeBidiStreamRequest(
      '/sift.embedding.v1.EmbeddingService/EmbedStream',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const failed = new Promise<{ code: number; details: string }>((resolve) => {
      call.on('data', () => {});
      call.on('error', (e: { code: number; details: string }) => resolve(e));
    });
    call.write(Buffer.from([0x12, 0x10, 0x61])); // field 2 announces 16 bytes, one follows
    const err = await failed;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^the EmbedStream request is not a valid protobuf message/);
    expect((await client.embed({ inputs: ['still serving'] })).tokenCounts).toEqual([2]);
  });
});

describe('embedding service with its models on a worker thread', () => {
  it('returns the vectors the main-thread service returns, for both encoders', async () => {
    const main = await start();
    const worker = await start({ SIFT_EMBEDDING_SESSION_THREAD: 'worker' });
    try {
      for (const model of [
        { name: 'glove-sif-100d', version: '1' },
        { name: 'mini-sentence-encoder', version: '1' },
      ]) {
        const request = { model, inputs: ['A man plays a guitar.', 'Stock markets fell sharply today.'] };
        const [a, b] = await Promise.all([main.client.embed(request), worker.client.embed(request)]);
        expect(b.embeddings?.dims).toEqual(a.embeddings?.dims);
        expect(Buffer.from(b.embeddings?.data ?? []).equals(Buffer.from(a.embeddings?.data ?? []))).toBe(true);
      }
    } finally {
      main.client.close();
      worker.client.close();
      await Promise.all([main.service.stop(), worker.service.stop()]);
    }
  });
});

describe('embedding service under load limits', () => {
  it('answers DEADLINE_EXCEEDED when the deadline passes while queued, then serves the next call', async () => {
    const { service, client } = await start({ SIFT_EMBEDDING_MAX_QUEUE_DELAY_MS: '400' });
    try {
      const err = await grpcError(client.embed({ inputs: ['waiting for company'] }, 100));
      expect(err.code).toBe(status.DEADLINE_EXCEEDED);
      const ok = await client.embed({ inputs: ['next call'] }, 5000);
      expect(ok.embeddings?.dims).toEqual([1, 100]);
    } finally {
      client.close();
      await service.stop();
    }
  });

  it('answers a small call while a large one is still being featurized', async () => {
    const { service, client } = await start({
      SIFT_GRPC_MAX_MESSAGE_BYTES: String(16 * 1024 * 1024),
      SIFT_EMBEDDING_MAX_INPUTS: '2048',
      SIFT_EMBEDDING_WARM_MODELS: 'mini-sentence-encoder',
    });
    const submit = DynamicBatcher.prototype.submit;
    try {
      // 1,500 texts of 4,000 characters (6 MB): WordPiece tokenizing takes ~2 s here.
      const prose = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
      const inputs = Array.from({ length: 1500 }, (_, i) => {
        const at = (i * 613) % (prose.length - 4000);
        return prose.slice(at, at + 4000);
      });
      const model = { name: 'mini-sentence-encoder', version: '1' };
      // The service runs in this process: record, in order, when each call's inputs reach the batcher (all
      // of them featurized) and when the small call is answered.
      const events: string[] = [];
      // A pass-through wrapper: the real batcher runs; the wrapper only notes when inputs reach it.
      DynamicBatcher.prototype.submit = function (this: DynamicBatcher<Batchable, unknown>, items, signal) {
        events.push(`${items.length} featurized`);
        return submit.call(this, items, signal);
      };
      const large = client.embed({ model, inputs }, 60_000);
      await until(() => service.inFlight() === 1, 'the large call reaches its handler');
      await client.embed({ model, inputs: ['A short question.'] }, 60_000);
      events.push('small answered');
      expect((await large).embeddings?.dims[0]).toBe(1500);
      // Featurized in one go, the large call would hold the event loop until all its inputs were featurized:
      // the small call would be read only after that.
      expect(events).toEqual(['1 featurized', 'small answered', '1500 featurized']);
    } finally {
      DynamicBatcher.prototype.submit = submit;
      client.close();
      await service.stop();
    }
  }, 60_000);

  it('answers RESOURCE_EXHAUSTED when the queue is full', async () => {
    const { service, client } = await start({
      SIFT_EMBEDDING_MAX_QUEUE: '4',
      SIFT_EMBEDDING_MAX_INPUTS: '4',
      SIFT_EMBEDDING_MAX_BATCH: '4',
      // Queued inputs wait for a full batch of 4, so no model is warmed up (its one input would wait too).
      SIFT_EMBEDDING_MAX_QUEUE_DELAY_MS: String(10 * 60_000),
      SIFT_EMBEDDING_WARM_MODELS: ',',
    });
    try {
      // Whichever call arrives first is queued and cannot be dispatched; the other would overfill the queue.
      const outcomes = [client.embed({ inputs: ['a', 'b', 'c'] }), client.embed({ inputs: ['d', 'e', 'f'] })].map(
        (call) =>
          call.then(
            () => 'answered',
            (err: ServiceError) => err,
          ),
      );
      const refused = await Promise.race(outcomes);
      expect(refused).toMatchObject({
        code: status.RESOURCE_EXHAUSTED,
        details: expect.stringContaining('queue is full'),
      });
      // One more input fills the batch: it and the queued call are answered.
      expect((await client.embed({ inputs: ['g'] })).embeddings?.dims).toEqual([1, 100]);
      expect((await Promise.all(outcomes)).filter((o) => o === 'answered')).toHaveLength(1);
    } finally {
      client.close();
      await service.stop();
    }
  });

  it('refuses to start with a per-call limit larger than the queue (such calls could never be served)', () => {
    expect(() => loadEmbeddingConfig({ SIFT_EMBEDDING_MAX_INPUTS: '100', SIFT_EMBEDDING_MAX_QUEUE: '10' })).toThrow(
      'SIFT_EMBEDDING_MAX_INPUTS (100) is larger than SIFT_EMBEDDING_MAX_QUEUE (10)',
    );
  });

  it('drains an in-flight call on shutdown instead of cutting it off', async () => {
    const { service, client } = await start({ SIFT_EMBEDDING_MAX_QUEUE_DELAY_MS: '300' });
    await client.embed({ inputs: ['connect first'] });
    const inFlight = client.embed({ inputs: ['finish me before you go'] });
    // It waits 300 ms in the batcher for company: stop while it does.
    await until(() => service.inFlight() === 1, 'the call reaches its handler');
    await service.stop(30_000);
    const res = await inFlight;
    expect(res.embeddings?.dims).toEqual([1, 100]);
    const err = await grpcError(client.embed({ inputs: ['too late'] }, 2000));
    expect(err.code).toBe(status.UNAVAILABLE);
    client.close();
  });

  it('serves a new model version that appears in the store, once the newest-version TTL has passed', async () => {
    const store = mkdtempSync(join(tmpdir(), 'sift-embed-store-'));
    cpSync(join(modelsDir, 'code-ngram', '1'), join(store, 'code-ngram', '1'), { recursive: true });
    let now = 0; // the TTL's clock, in ms: it moves only when the test moves it
    const { service, client } = await start(
      {
        SIFT_MODELS_DIR: store,
        SIFT_EMBEDDING_WARM_MODELS: 'code-ngram',
        SIFT_EMBEDDING_DEFAULT_MODEL: 'code-ngram',
        SIFT_EMBEDDING_NEWEST_VERSION_TTL_MS: '2000',
      },
      { now: () => now },
    );
    try {
      expect((await client.embed({ inputs: ['def f(x): return x'] })).model).toEqual({
        name: 'code-ngram',
        version: '1',
      });
      cpSync(join(store, 'code-ngram', '1'), join(store, 'code-ngram', '2'), { recursive: true });
      // Within the TTL (from the warm-up's lookup) the resolved version is reused (no store listing per call);
      // after it, the new one serves.
      now += 1999;
      expect((await client.embed({ inputs: ['def g(): pass'] })).model?.version).toBe('1');
      now += 1;
      expect((await client.embed({ inputs: ['def g(): pass'] })).model?.version).toBe('2');
      // An explicit version keeps resolving to itself.
      expect(
        (await client.embed({ inputs: ['x = 1'], model: { name: 'code-ngram', version: '1' } })).model?.version,
      ).toBe('1');
    } finally {
      client.close();
      await service.stop();
      rmSync(store, { recursive: true, force: true });
    }
  });
});
