import { createRequire } from 'node:module';
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { embeddingV1, selectionV1 } from '@sift/contracts';
import { service as healthService } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallContext,
  type FinishedCall,
  type RunningGrpcServer,
  startGrpcServer,
  type UnaryHandler,
} from './grpc-server.js';
import { createLogger } from './logger.js';
import { SiftError } from './sift-error.js';

const logger = createLogger('kit-test', 'error');
let server: RunningGrpcServer | undefined;
afterEach(async () => {
  await server?.shutdown(1000);
  server = undefined;
});

/** The calls a server reported finished (after sending their status); `count(n)` resolves once there are `n`. */
class FinishedCalls {
  readonly calls: FinishedCall[] = [];
  private readonly waiting: { n: number; resolve: () => void }[] = [];

  record(call: FinishedCall): void {
    this.calls.push(call);
    for (const w of this.waiting) if (this.calls.length >= w.n) w.resolve();
  }

  count(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ n, resolve });
      if (this.calls.length >= n) resolve();
    });
  }

  statuses(): string[] {
    return this.calls.map((c) => c.status);
  }
}

/** A server mounting the embedding contract with handlers written for each test. */
async function serve(
  embed: (req: embeddingV1.EmbedRequest, ctx: { signal: AbortSignal }) => Promise<embeddingV1.EmbedResponse>,
  finished = new FinishedCalls(),
) {
  server = await startGrpcServer({
    name: 'kit-test',
    host: '127.0.0.1',
    port: 0,
    logger,
    maxMessageBytes: 1024 * 1024,
    services: [
      {
        definition: embeddingV1.EmbeddingServiceService,
        handlers: {
          embed: (async (req: embeddingV1.EmbedRequest, ctx: CallContext) => {
            ctx.report.batchSize = req.inputs.length;
            return embed(req, ctx);
          }) satisfies UnaryHandler,
          embedStream: async () => {},
          listModels: async () => ({ models: [], defaultModel: 'x' }),
        },
      },
    ],
    onCallFinished: (c) => finished.record(c),
  });
  const client = new embeddingV1.EmbeddingServiceClient(server.address, credentials.createInsecure());
  const call = (inputs: string[], timeoutMs = 5000) =>
    new Promise<embeddingV1.EmbedResponse>((resolve, reject) =>
      client.embed(
        embeddingV1.EmbedRequest.fromPartial({ inputs }),
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
  return { client, call };
}

const fail = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('expected failure'),
    (e: ServiceError) => e,
  );

describe('startGrpcServer', () => {
  it('maps a SiftError to its status and message, and hides internal errors', async () => {
    let next: Error = new SiftError('not_found', 'unknown model "m"');
    const { call, client } = await serve(async () => {
      throw next;
    });
    const e1 = await fail(call(['a']));
    expect(e1.code).toBe(status.NOT_FOUND);
    expect(e1.details).toBe('unknown model "m"');
    next = new Error('secret stack detail');
    const e2 = await fail(call(['a']));
    expect(e2.code).toBe(status.INTERNAL);
    expect(e2.details).not.toContain('secret');
    // A value the caller sent is echoed back at most 200 characters long: a status message is a header.
    next = new SiftError('not_found', `unknown model "${'m'.repeat(100_000)}"; the store has: glove`);
    const e3 = await fail(call(['a']));
    expect(e3.code).toBe(status.NOT_FOUND);
    expect(e3.details).toBe(`unknown model "${'m'.repeat(200)}…"; the store has: glove`);
    client.close();
  });

  it('aborts the handler signal when the client deadline passes, and records DEADLINE_EXCEEDED', async () => {
    let aborted: unknown;
    const finished = new FinishedCalls();
    const { call, client } = await serve(
      (_req: embeddingV1.EmbedRequest, ctx: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
      finished,
    );
    // grpc-js cancels the call on its own deadline timer; the kit must still see a deadline, not a cancel.
    for (let i = 0; i < 3; i++) {
      const e = await fail(call(['a'], 300));
      expect(e.code).toBe(status.DEADLINE_EXCEEDED);
    }
    // The client's own timer may end its call before the server has recorded it.
    await finished.count(3);
    expect(aborted).toBeInstanceOf(SiftError);
    expect((aborted as SiftError).kind).toBe('deadline_exceeded');
    expect(finished.statuses()).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
    client.close();
  });

  it('records a client that cancels well before its deadline as CANCELLED', async () => {
    const finished = new FinishedCalls();
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const { client } = await serve(
      (_req, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          started();
        }),
      finished,
    );
    const call = client.embed(
      embeddingV1.EmbedRequest.fromPartial({ inputs: ['a'] }),
      new Metadata(),
      { deadline: Date.now() + 60_000 },
      () => {},
    );
    await handlerStarted;
    call.cancel();
    await finished.count(1);
    expect(finished.statuses()).toEqual(['CANCELLED']);
    client.close();
  });

  it('answers a request that is not valid protobuf with INVALID_ARGUMENT and keeps serving', async () => {
    const finished = new FinishedCalls();
    const { call, client } = await serve(
      async (req) =>
        ({ tokenCounts: req.inputs.map(() => 1), truncated: [], fedTokens: [], maxInputTokens: 1 }) as never,
      finished,
    );
    // Field 2 (inputs) announces 16 bytes but only one follows.
    const raw = new Promise<unknown>((resolve, reject) =>
      client.makeUnaryRequest(
        '/sift.embedding.v1.EmbeddingService/Embed',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x12, 0x10, 0x61]),
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    const e = await fail(raw);
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^the Embed request is not a valid protobuf message/);
    expect((await call(['a'])).tokenCounts).toEqual([1]);
    expect(finished.statuses()).toEqual(['INVALID_ARGUMENT', 'OK']);
    client.close();
  });

  it('refuses a string field holding bytes that are not UTF-8, and still takes any real Unicode text', async () => {
    const finished = new FinishedCalls();
    const seen: string[] = [];
    const { call, client } = await serve(async (req) => {
      seen.push(...req.inputs);
      return { tokenCounts: req.inputs.map(() => 1), truncated: [], fedTokens: [], maxInputTokens: 1 } as never;
    }, finished);
    // Field 2 (inputs) = "caf\xe9": Latin-1 "café", which is not UTF-8.
    const raw = new Promise<unknown>((resolve, reject) =>
      client.makeUnaryRequest(
        '/sift.embedding.v1.EmbeddingService/Embed',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x12, 0x04, 0x63, 0x61, 0x66, 0xe9]),
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    const e = await fail(raw);
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^the Embed request has a string field whose bytes are not valid UTF-8/);
    const text = 'naïve café, 日本語, 🙂, and a literal replacement character \uFFFD';
    expect((await call([text])).tokenCounts).toEqual([1]);
    expect(seen).toEqual([text]);
    expect(finished.statuses()).toEqual(['INVALID_ARGUMENT', 'OK']);
    client.close();
  });

  it('refuses a 64-bit integer beyond 2^53 - 1 as a value the service cannot take, not as a bad encoding', async () => {
    server = await startGrpcServer({
      name: 'kit-test',
      host: '127.0.0.1',
      port: 0,
      logger,
      maxMessageBytes: 1024 * 1024,
      services: [
        {
          definition: { submitJob: selectionV1.SelectionServiceService.submitJob },
          handlers: { submitJob: async () => ({ jobId: 'job-x', resolvedSteps: [] }) },
        },
      ],
    });
    const client = new selectionV1.SelectionServiceClient(server.address, credentials.createInsecure());
    // steps[0].kmeans.seed = 2^60: valid protobuf (a uint64 varint) that the generated decoder cannot hold.
    const request = selectionV1.SubmitJobRequest.encode(
      selectionV1.SubmitJobRequest.fromPartial({
        steps: [{ name: 'k', kind: { $case: 'kmeans', value: { seed: 2 ** 60 } } }],
      }),
    ).finish();
    const e = await fail(
      new Promise<unknown>((resolve, reject) =>
        client.makeUnaryRequest(
          '/sift.selection.v1.SelectionService/SubmitJob',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(request),
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      ),
    );
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toBe(
      'the SubmitJob request has a 64-bit integer field beyond 9007199254740991 (2^53 - 1) in magnitude, the largest value this service takes',
    );
    client.close();
  });

  it('reports every finished call with its status, latency and batch size', async () => {
    const finished = new FinishedCalls();
    const { call, client } = await serve(
      async (req) =>
        ({ tokenCounts: req.inputs.map(() => 1), truncated: [], fedTokens: [], maxInputTokens: 1 }) as never,
      finished,
    );
    await call(['a', 'b', 'c']);
    expect(finished.calls).toHaveLength(1);
    expect(finished.calls[0]).toMatchObject({ service: 'kit-test', method: 'Embed', status: 'OK', batchSize: 3 });
    client.close();
  });

  it('serves grpc.health.v1 for the server and for each mounted service', async () => {
    const { client } = await serve(async () => ({}) as never);
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(server?.address ?? '', credentials.createInsecure()) as unknown as {
      check(r: { service: string }, cb: (e: unknown, r: { status: string }) => void): void;
      close(): void;
    };
    const check = (service: string) =>
      new Promise<string>((res, rej) => health.check({ service }, (e, r) => (e ? rej(e) : res(r.status))));
    expect(await check('')).toBe('SERVING');
    expect(await check('sift.embedding.v1.EmbeddingService')).toBe('SERVING');
    health.close();
    client.close();
  });

  it('answers server reflection with the services it serves, and only those', async () => {
    const { client } = await serve(async () => ({}) as never);
    const require = createRequire(import.meta.url);
    const protoPath = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true })) as any;
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(server?.address, credentials.createInsecure());
    const stream = reflection.ServerReflectionInfo();
    const answer = new Promise<{ name: string }[]>((resolve, reject) => {
      stream.on('data', (m: { list_services_response: { service: { name: string }[] } }) =>
        resolve(m.list_services_response.service),
      );
      stream.on('error', reject);
    });
    stream.write({ list_services: '*' });
    const names = (await answer).map((s) => s.name);
    stream.end();
    expect(names).toEqual(['sift.embedding.v1.EmbeddingService']);
    reflection.close();
    client.close();
  });
});
