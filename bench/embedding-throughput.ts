/**
 * Embedding throughput and latency: the service through gRPC (its own process, as deployed) against the
 * same model called in-process, at several concurrencies; dynamic batching on vs off; p50/p99 latency.
 * Prints figures and ratios; targets from issue 2 are printed next to them, never asserted.
 *
 *   npx tsx bench/embedding-throughput.ts [--seconds 5] [--model glove-sif-100d] [--texts 4]
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { embeddingV1 } from '@sift/contracts';
import { createFeaturizer, type EncodedInput } from '@sift/featurizers';
import { DynamicBatcher, ModelStore, SessionCache, toOrtFeeds } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { repoRoot, startDeployable } from '@sift/launcher';

const flag = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const seconds = Number(flag('--seconds')) || 5;
const modelName = flag('--model') ?? 'glove-sif-100d';
const textsPerRequest = Number(flag('--texts')) || 4;
const words =
  'the river mountain city people market music government water science history language school family light city power story'.split(
    ' ',
  );
let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const sentence = () =>
  Array.from({ length: 12 + Math.floor(rand() * 16) }, () => words[Math.floor(rand() * words.length)]).join(' ');
const corpus = Array.from({ length: 512 }, sentence);
const request = (i: number, n = textsPerRequest) =>
  Array.from({ length: n }, (_, k) => corpus[(i * n + k) % corpus.length] as string);

interface Run {
  texts: number;
  latencies: number[];
  elapsedS: number;
}

/** Runs `concurrency` closed loops of `call` for `seconds`. */
async function closedLoop(concurrency: number, call: (i: number) => Promise<number>): Promise<Run> {
  const latencies: number[] = [];
  let texts = 0;
  let i = 0;
  const until = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        // Not `texts += await ...`: that reads `texts` before the await and loses concurrent updates.
        const done = await call(i++);
        texts += done;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { texts, latencies, elapsedS: (performance.now() - start) / 1000 };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const rate = (r: Run) => r.texts / r.elapsedS;
const fmt = (r: Run) =>
  `${rate(r).toFixed(0).padStart(7)} texts/s  p50 ${pct(r.latencies, 50).toFixed(2).padStart(7)} ms  p99 ${pct(r.latencies, 99).toFixed(2).padStart(7)} ms`;

async function grpcCaller(env: Record<string, string>) {
  const svc = await startDeployable('embedding', 'services/embedding/src/main.ts', {
    SIFT_EMBEDDING_PORT: '0',
    SIFT_LOG_LEVEL: 'warn',
    SIFT_NATS_URL: '',
    SIFT_EMBEDDING_WARM_MODELS: modelName,
    ...env,
  });
  const client = new embeddingV1.EmbeddingServiceClient(`127.0.0.1:${svc.port}`, credentials.createInsecure());
  const call = (inputs: string[]) =>
    new Promise<number>((res, rej) =>
      client.embed(
        embeddingV1.EmbedRequest.fromPartial({ inputs, model: { name: modelName, version: '' } }),
        new Metadata(),
        (err, r) => (err ? rej(err) : res(r.embeddings?.dims[0] ?? 0)),
      ),
    );
  /**
   * Bulk work as the selection service does it: one EmbedStream, chunks of `chunk` texts, `inFlight`
   * chunks outstanding, for `seconds`; returns texts embedded per second.
   */
  const bulk = (chunk: number, inFlight: number) =>
    new Promise<Run>((resolveRun, reject) => {
      const stream = client.embedStream();
      const sentAt = new Map<string, number>();
      const latencies: number[] = [];
      let texts = 0;
      let next = 0;
      const start = performance.now();
      const until = start + seconds * 1000;
      const send = () => {
        const id = String(next);
        sentAt.set(id, performance.now());
        stream.write({
          chunkId: id,
          request: embeddingV1.EmbedRequest.fromPartial({ inputs: request(next++, chunk), model: { name: modelName } }),
        });
      };
      stream.on('data', (m: embeddingV1.EmbedStreamResponse) => {
        texts += m.response?.embeddings?.dims[0] ?? 0;
        latencies.push(performance.now() - (sentAt.get(m.chunkId) ?? 0));
        sentAt.delete(m.chunkId);
        if (performance.now() < until) send();
        else if (sentAt.size === 0) stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => resolveRun({ texts, latencies, elapsedS: (performance.now() - start) / 1000 }));
      for (let i = 0; i < inFlight; i++) send();
    });
  return {
    call,
    bulk,
    stop: async () => {
      client.close();
      await svc.stop();
    },
  };
}

const logger = createLogger('bench', 'warn');
const store = new ModelStore(resolve(repoRoot, 'models'));
const model = await store.resolve(modelName);
const sessions = new SessionCache({ provider: 'cpu', logger });
const graph = await sessions.get(model);
const featurizer = await createFeaturizer(model.dir, model.manifest.preprocessing ?? {}, graph.session.inputNames);
/** The model called in-process through onnxruntime, one session.run per request (no batching). */
const direct = async (inputs: string[]) => {
  const feeds = featurizer.collate(inputs.map((t) => featurizer.encode(t)));
  await graph.session.run(toOrtFeeds(feeds));
  return inputs.length;
};
/**
 * The baseline: the same featurizer, batcher settings and session as the service, in-process; the ratio
 * to it is what gRPC, protobuf and the extra process cost.
 */
const batcher = new DynamicBatcher<EncodedInput, number>(
  async (items) => {
    await graph.session.run(toOrtFeeds(featurizer.collate(items)));
    return items.map(() => 1);
  },
  { maxBatchSize: 64, maxBatchTokens: 16384, maxQueueDelayMs: 0, maxQueueItems: 8192, mode: 'dynamic' },
);
const inProcess = async (inputs: string[]) => {
  await batcher.submit(inputs.map((t) => featurizer.encode(t)));
  return inputs.length;
};

process.stdout.write(
  `# embedding-throughput  model=${model.name}@${model.version}  ${cpus().length} cores (${cpus()[0]?.model})  ${seconds}s per run, ${textsPerRequest} texts/request\n\n`,
);
const results: Record<string, Run> = {};
const dynamic = await grpcCaller({ SIFT_EMBEDDING_BATCHING: 'dynamic' });
for (const c of [1, 8, 32]) {
  const raw = await closedLoop(c, (i) => direct(request(i)));
  process.stdout.write(`c=${String(c).padEnd(3)} direct     ${fmt(raw)}   (session.run per request)\n`);
  results[`in-process c=${c}`] = await closedLoop(c, (i) => inProcess(request(i)));
  results[`grpc dynamic c=${c}`] = await closedLoop(c, (i) => dynamic.call(request(i)));
  process.stdout.write(`      in-process ${fmt(results[`in-process c=${c}`] as Run)}   (same batcher, no gRPC)\n`);
  process.stdout.write(
    `      grpc       ${fmt(results[`grpc dynamic c=${c}`] as Run)}   ratio ${(rate(results[`grpc dynamic c=${c}`] as Run) / rate(results[`in-process c=${c}`] as Run)).toFixed(2)}\n`,
  );
}
// Bulk: 256-text chunks, 4 in flight over one EmbedStream, against the same load in-process.
const bulkChunk = 256;
const bulkInProcess = await closedLoop(4, (i) => inProcess(request(i, bulkChunk)));
const bulkGrpc = await dynamic.bulk(bulkChunk, 4);
process.stdout.write(`\nbulk, ${bulkChunk}-text chunks, 4 in flight:\n`);
process.stdout.write(`      in-process ${fmt(bulkInProcess)}\n`);
process.stdout.write(
  `      EmbedStream ${fmt(bulkGrpc)}   ratio ${(rate(bulkGrpc) / rate(bulkInProcess)).toFixed(2)}\n`,
);
const single = await closedLoop(32, (i) => dynamic.call(request(i, 1)));
await dynamic.stop();
const perRequest = await grpcCaller({ SIFT_EMBEDDING_BATCHING: 'per-request' });
const unbatched = await closedLoop(32, (i) => perRequest.call(request(i, 1)));
await perRequest.stop();
await sessions.close();

const r32 = rate(results['grpc dynamic c=32'] as Run) / rate(results['in-process c=32'] as Run);
process.stdout.write(`\n1 text/request, c=32: dynamic batching ${fmt(single)}\n`);
process.stdout.write(`                      per-request      ${fmt(unbatched)}\n`);
process.stdout.write(
  `\nsummary: grpc/in-process at c=32 = ${r32.toFixed(2)} (target >= 0.8); dynamic/per-request at c=32 = ${(rate(single) / rate(unbatched)).toFixed(2)}x (target >= 3x)\n`,
);
