/**
 * Embedding throughput and latency: the service through gRPC (its own process, as deployed) against the
 * same model called in-process, at several concurrencies; dynamic batching on vs off; p50/p99 latency.
 * Prints figures and ratios; targets from issue 2 are printed next to them, never asserted.
 *
 *   npx tsx bench/embedding-throughput.ts [--seconds 5] [--model glove-sif-100d] [--texts 4] [--thread main|worker]
 *     [--with-metrics]   (a real NATS server: every call also publishes its request metric, as deployed)
 *     [--threads N]      (ONNX Runtime intra-op threads, in the service and in-process alike; default: ORT's)
 *     [--grpc-floor]     (also a bare grpc-js server answering Embed with a canned response: the per-call floor)
 *     [--service-cpus 0,1 --client-cpus 2-5]   (Linux: the service, and the in-process baseline, run on the
 *                        first CPUs, the load generator on the others, as if the client were another machine)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { embeddingV1 } from '@sift/contracts';
import { createFeaturizer, type EncodedInput } from '@sift/featurizers';
import { DynamicBatcher, ModelStore, SessionCache, toOrtFeeds } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { repoRoot, startDeployable, startNats } from '@sift/launcher';

const flag = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const seconds = Number(flag('--seconds')) || 5;
const modelName = flag('--model') ?? 'glove-sif-100d';
const textsPerRequest = Number(flag('--texts')) || 4;
/** Where the model computes, in the service and in-process alike: the event-loop thread or a worker thread. */
const thread = flag('--thread') === 'worker' ? 'worker' : 'main';
/** With a NATS server the service publishes every call's metric to JetStream, as it does when deployed. */
const nats = process.argv.includes('--with-metrics') ? await startNats() : undefined;
const threads = Number(flag('--threads')) || 0;
const serviceCpus = flag('--service-cpus');
const clientCpus = flag('--client-cpus');
if ((serviceCpus === undefined) !== (clientCpus === undefined)) {
  throw new Error('--service-cpus and --client-cpus go together');
}
/**
 * Moves this process (every thread, ONNX Runtime's pool too) onto `cpus`: the service's CPUs while it is the
 * in-process baseline, the client's while it generates load for the service. A no-op without the flags.
 */
const runOn = (cpus: string | undefined) => {
  if (cpus) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
};
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
  /** CPU seconds (user + system, all threads) of this process during the run: the client, or all of in-process. */
  ownCpuS: number;
  /** CPU seconds of the service process during the run; 0 for in-process runs. */
  serviceCpuS: number;
}

/** CPU seconds used so far by another process, all threads (utime + stime from /proc, Linux). */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks; CLK_TCK is 100 on Linux
}
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Runs `concurrency` closed loops of `call` for `seconds`, counting the CPU of this process and of `servicePid`. */
async function closedLoop(
  concurrency: number,
  call: (i: number) => Promise<number>,
  servicePid?: number,
): Promise<Run> {
  const latencies: number[] = [];
  let texts = 0;
  let i = 0;
  const until = performance.now() + seconds * 1000;
  const start = performance.now();
  const own0 = ownCpuSeconds();
  const service0 = processCpuSeconds(servicePid);
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
  return {
    texts,
    latencies,
    elapsedS: (performance.now() - start) / 1000,
    ownCpuS: ownCpuSeconds() - own0,
    serviceCpuS: processCpuSeconds(servicePid) - service0,
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const rate = (r: Run) => r.texts / r.elapsedS;
/** CPU milliseconds per 1,000 texts: of the service process for gRPC runs, of this process for in-process runs. */
const cpuPerKText = (r: Run) => ((r.serviceCpuS || r.ownCpuS) * 1e6) / Math.max(1, r.texts);
const fmt = (r: Run) =>
  `${rate(r).toFixed(0).padStart(7)} texts/s  p50 ${pct(r.latencies, 50).toFixed(2).padStart(7)} ms  p99 ${pct(r.latencies, 99).toFixed(2).padStart(7)} ms  ` +
  (r.serviceCpuS
    ? `CPU ${cpuPerKText(r).toFixed(0).padStart(4)} ms/1k texts (client ${((r.ownCpuS * 1e6) / Math.max(1, r.texts)).toFixed(0)})`
    : `CPU ${cpuPerKText(r).toFixed(0).padStart(4)} ms/1k texts`);
/** In-process CPU per text over the service's CPU per text: the throughput ratio on cores the service has to itself. */
const cpuRatio = (grpc: Run, inProcess: Run) => cpuPerKText(inProcess) / cpuPerKText(grpc);

/** Starts `server` (the embedding service, or the bare grpc-js floor) and returns calls against it. */
async function grpcCaller(
  env: Record<string, string>,
  server: { name: string; entry: string } = { name: 'embedding', entry: 'services/embedding/src/main.ts' },
) {
  const svc = await startDeployable(
    server.name,
    server.entry,
    {
      SIFT_EMBEDDING_PORT: '0',
      SIFT_LOG_LEVEL: 'warn',
      SIFT_NATS_URL: nats?.url ?? '',
      SIFT_EMBEDDING_WARM_MODELS: modelName,
      SIFT_EMBEDDING_SESSION_THREAD: thread,
      SIFT_ORT_THREADS: String(threads),
      ...env,
    },
    serviceCpus ? { cpus: serviceCpus } : {},
  );
  const pid = svc.process.pid;
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
      const own0 = ownCpuSeconds();
      const service0 = processCpuSeconds(pid);
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
      stream.on('end', () =>
        resolveRun({
          texts,
          latencies,
          elapsedS: (performance.now() - start) / 1000,
          ownCpuS: ownCpuSeconds() - own0,
          serviceCpuS: processCpuSeconds(pid) - service0,
        }),
      );
      for (let i = 0; i < inFlight; i++) send();
    });
  /** Dimensions of the model's vectors, from one call. */
  const dims = () =>
    new Promise<number>((res, rej) =>
      client.embed(
        embeddingV1.EmbedRequest.fromPartial({ inputs: ['dimensions'], model: { name: modelName, version: '' } }),
        new Metadata(),
        (err, r) => (err ? rej(err) : res(Number(r.embeddings?.dims[1] ?? 0))),
      ),
    );
  return {
    pid,
    call,
    dims,
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
const sessions = new SessionCache({ provider: 'cpu', logger, thread, ...(threads ? { intraOpThreads: threads } : {}) });
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
  `# embedding-throughput  model=${model.name}@${model.version}  ${cpus().length} cores (${cpus()[0]?.model})  ${seconds}s per run, ${textsPerRequest} texts/request, models on the ${thread} thread${nats ? ', request metrics to NATS' : ''}` +
    `${threads ? `, ${threads} ORT threads` : ''}${serviceCpus ? `, service and in-process on CPUs ${serviceCpus}, client on ${clientCpus}` : ''}\n\n`,
);
const results: Record<string, Run> = {};
const dynamic = await grpcCaller({ SIFT_EMBEDDING_BATCHING: 'dynamic' });
for (const c of [1, 8, 32]) {
  runOn(serviceCpus);
  const raw = await closedLoop(c, (i) => direct(request(i)));
  process.stdout.write(`c=${String(c).padEnd(3)} direct     ${fmt(raw)}   (session.run per request)\n`);
  results[`in-process c=${c}`] = await closedLoop(c, (i) => inProcess(request(i)));
  runOn(clientCpus);
  results[`grpc dynamic c=${c}`] = await closedLoop(c, (i) => dynamic.call(request(i)), dynamic.pid);
  const inProc = results[`in-process c=${c}`] as Run;
  const grpc = results[`grpc dynamic c=${c}`] as Run;
  process.stdout.write(`      in-process ${fmt(inProc)}   (same batcher, no gRPC)\n`);
  process.stdout.write(
    `      grpc       ${fmt(grpc)}   ratio ${(rate(grpc) / rate(inProc)).toFixed(2)}, by service CPU ${cpuRatio(grpc, inProc).toFixed(2)}\n`,
  );
}
// Bulk: 256-text chunks, 4 in flight over one EmbedStream, against the same load in-process.
const bulkChunk = 256;
runOn(serviceCpus);
const bulkInProcess = await closedLoop(4, (i) => inProcess(request(i, bulkChunk)));
runOn(clientCpus);
const bulkGrpc = await dynamic.bulk(bulkChunk, 4);
process.stdout.write(`\nbulk, ${bulkChunk}-text chunks, 4 in flight:\n`);
process.stdout.write(`      in-process ${fmt(bulkInProcess)}\n`);
process.stdout.write(
  `      EmbedStream ${fmt(bulkGrpc)}   ratio ${(rate(bulkGrpc) / rate(bulkInProcess)).toFixed(2)}, by service CPU ${cpuRatio(bulkGrpc, bulkInProcess).toFixed(2)}\n`,
);
const single = await closedLoop(32, (i) => dynamic.call(request(i, 1)), dynamic.pid);
const dims = await dynamic.dims();
await dynamic.stop();
if (process.argv.includes('--grpc-floor')) {
  // The same calls against grpc-js alone: what any unary service in Node pays per call before doing anything.
  runOn(clientCpus);
  const floor = await grpcCaller(
    { SIFT_FLOOR_DIMS: String(dims) },
    { name: 'grpc-floor', entry: 'bench/grpc-floor-server.ts' },
  );
  const floorRun = await closedLoop(32, (i) => floor.call(request(i)), floor.pid);
  await floor.stop();
  const grpc = results['grpc dynamic c=32'] as Run;
  const perCall = (r: Run) => ((r.serviceCpuS * 1000) / Math.max(1, r.texts)) * textsPerRequest;
  process.stdout.write(
    `\ngrpc-js alone, canned ${textsPerRequest} x ${dims} response, c=32: ${(rate(floorRun) / textsPerRequest).toFixed(0)} calls/s, ` +
      `server ${perCall(floorRun).toFixed(3)} ms CPU per call; the embedding service at c=32: ${perCall(grpc).toFixed(3)} ms ` +
      `per call, of which the model path in-process takes ${((cpuPerKText(results['in-process c=32'] as Run) * textsPerRequest) / 1000).toFixed(3)} ms\n`,
  );
}
const perRequest = await grpcCaller({ SIFT_EMBEDDING_BATCHING: 'per-request' });
const unbatched = await closedLoop(32, (i) => perRequest.call(request(i, 1)), perRequest.pid);
await perRequest.stop();
// The same comparison without RPC: what batching itself gains for this model on this machine.
runOn(serviceCpus);
const singleInProcess = await closedLoop(32, (i) => inProcess(request(i, 1)));
const unbatchedInProcess = await closedLoop(32, (i) => direct(request(i, 1)));
await sessions.close();
await nats?.stop();

const grpc32 = results['grpc dynamic c=32'] as Run;
const inProc32 = results['in-process c=32'] as Run;
const r32 = rate(grpc32) / rate(inProc32);
process.stdout.write(`\n1 text/request, c=32: dynamic batching ${fmt(single)}\n`);
process.stdout.write(`                      per-request      ${fmt(unbatched)}\n`);
process.stdout.write(`  in-process, no RPC: dynamic batching ${fmt(singleInProcess)}\n`);
process.stdout.write(
  `                      per-request      ${fmt(unbatchedInProcess)}   ratio ${(rate(singleInProcess) / rate(unbatchedInProcess)).toFixed(2)}x\n`,
);
process.stdout.write(
  `\nsummary: grpc/in-process at c=32 = ${r32.toFixed(2)}, by service CPU per text ${cpuRatio(grpc32, inProc32).toFixed(2)} (target >= 0.8); ` +
    `dynamic/per-request at c=32 = ${(rate(single) / rate(unbatched)).toFixed(2)}x, by service CPU per text ${(cpuPerKText(unbatched) / cpuPerKText(single)).toFixed(2)}x (target >= 3x)\n`,
);
