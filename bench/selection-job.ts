/**
 * A data engineer's curation job at scale, end to end, against the same algorithms run in-process.
 *
 *   npx tsx bench/selection-job.ts [--records 100000] [--k 300]
 *
 * The corpus: `--records` JSONL records of three English sentences each, drawn (seeded) from the README
 * prose of the installed npm packages, with 4% exact copies and 4% near-copies (two words replaced) of
 * earlier records planted. The job, through the real platform (gateway, NATS work queue, selection worker,
 * embedding service over EmbedStream, metrics consumer on embedded ClickHouse): exact dedup, MinHash dedup,
 * embed (glove-sif-100d), spherical k-means, SemDeDup, writing the kept records, decisions and report.
 *
 * Printed: the job's wall time and records/s, each stage's seconds from its report, the time until every
 * decision row is in ClickHouse, and the selection and embedding processes' CPU seconds and peak RSS. The
 * baseline, in this process and on the same records: the same domain functions and the same model, with no
 * services, files, events or ClickHouse (reading the JSONL, exact dedup, MinHash, embedding through
 * onnxruntime with the service's batcher settings, k-means, SemDeDup). The ratio of the two is what the
 * platform costs on top of the algorithms.
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Bus } from '@sift/bus';
import { readRecords } from '@sift/datasets';
import { ModelStore, SessionCache } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { repoRoot, startPlatform, waitUntil } from '@sift/launcher';
import { seededRandom, sphericalKMeans } from '@sift/numeric';
import { listFiles } from '../models/builders/corpus-files.js';
import { markdownSentences } from '../models/builders/markdown-prose.js';
import { OnnxEncoderRegistry } from '../services/embedding/src/adapters/onnx-encoders.js';
import { embed } from '../services/embedding/src/domain/embed.js';
import { createSelectionKernels } from '../services/selection/src/adapters/onnx-kernels.js';
import { exactDedup, minHashDedup, semDedup } from '../services/selection/src/domain/index.js';
import { defaultPointsPerCentroid } from '../services/selection/src/pipeline/steps.js';

const flag = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const records = flag('records', 100_000);
const k = flag('k', 300);

/** Sentences of at least six words from the README files under node_modules, deduplicated. */
function readmeSentences(): string[] {
  const root = join(repoRoot, 'node_modules');
  const seen = new Set<string>();
  for (const file of listFiles(root, (name) => /^readme\.md$/i.test(name))) {
    for (const s of markdownSentences(readFileSync(join(root, file), 'utf8'))) {
      if (s.split(/\s+/).length >= 6) seen.add(s);
    }
  }
  return [...seen];
}

/** Writes the corpus file; returns how many exact and near copies it planted. */
async function writeCorpus(path: string): Promise<{ exactCopies: number; nearCopies: number }> {
  const sentences = readmeSentences();
  const random = seededRandom(17);
  const pick = () => sentences[Math.floor(random() * sentences.length)] as string;
  const texts: string[] = [];
  let exactCopies = 0;
  let nearCopies = 0;
  const out = createWriteStream(path);
  for (let i = 0; i < records; i++) {
    const r = random();
    let text: string;
    if (i > 100 && r < 0.04) {
      text = texts[Math.floor(random() * texts.length)] as string;
      exactCopies++;
    } else if (i > 100 && r < 0.08) {
      const words = (texts[Math.floor(random() * texts.length)] as string).split(' ');
      for (let e = 0; e < 2; e++) words[Math.floor(random() * words.length)] = `edit${Math.floor(random() * 1e6)}`;
      text = words.join(' ');
      nearCopies++;
    } else {
      text = `${pick()} ${pick()} ${pick()}`;
    }
    texts.push(text);
    if (!out.write(`${JSON.stringify({ id: `r${i}`, text })}\n`))
      await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await finished(out);
  return { exactCopies, nearCopies };
}

/** CPU seconds (all threads) and peak RSS of another process, from /proc (Linux). */
function processUsage(pid: number): { cpuS: number; peakRssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0);
  return { cpuS: (Number(fields[11]) + Number(fields[12])) / 100, peakRssMiB: hwm / 1024 };
}

const dataDir = mkdtempSync(join(tmpdir(), 'sift-bench-job-'));
const dataset = join(dataDir, 'corpus.jsonl');
const planted = await writeCorpus(dataset);
process.stdout.write(
  `# selection-job  ${records} records (${planted.exactCopies} exact and ${planted.nearCopies} near copies planted), ` +
    `k = ${k}  ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}\n\n`,
);

const steps = [
  { name: 'exact', exactDedup: {} },
  { name: 'minhash', minhashDedup: { jaccardThreshold: 0.8 } },
  { name: 'embed', embed: { model: { name: 'glove-sif-100d' }, batchSize: 256 } },
  { name: 'cluster', kmeans: { k, seed: 3 } },
  { name: 'semdedup', semDedup: { eps: 0.05 } },
];

/** The same work in this process: domain functions and the service's encoder, nothing else. */
async function inProcess(): Promise<{ stages: [string, number, number][]; kept: number; cpuS: number }> {
  const logger = createLogger('bench', 'warn');
  const cpu0 = process.cpuUsage();
  const stages: [string, number, number][] = [];
  let t = performance.now();
  const lap = (name: string, dropped: number) => {
    const now = performance.now();
    stages.push([name, dropped, (now - t) / 1000]);
    t = now;
  };
  const texts: string[] = [];
  for await (const r of readRecords({ paths: [dataset], format: 'auto', textField: 'text', idField: 'id' })) {
    texts.push(r.text);
  }
  lap('load', 0);
  const exact = exactDedup(texts);
  let alive = texts.flatMap((_, i) => (exact.kept[i] ? [i] : []));
  lap('exact', texts.length - alive.length);
  const minhash = minHashDedup(
    alive.map((i) => texts[i] as string),
    { threshold: 0.8 },
  );
  const afterExact = alive.length;
  alive = alive.filter((_, row) => minhash.kept[row]);
  lap('minhash', afterExact - alive.length);

  // The embedding service's own encoder and batcher settings, fed as the job feeds it: 256-text chunks,
  // four in flight.
  const sessions = new SessionCache({ provider: 'cpu', logger });
  const registry = new OnnxEncoderRegistry(
    new ModelStore(join(repoRoot, 'models')),
    sessions,
    { maxBatchSize: 64, maxBatchTokens: 16384, maxQueueDelayMs: 0, maxQueueItems: 8192, mode: 'dynamic' },
    logger,
  );
  await registry.warmUp(['glove-sif-100d']);
  t = performance.now();
  const chunk = 256;
  let dims = 0;
  const parts: Float32Array[] = [];
  let next = 0;
  const limits = { maxInputsPerCall: 2048, maxInputChars: 200_000, defaultModel: 'glove-sif-100d' };
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let c = next++; c * chunk < alive.length; c = next++) {
        const inputs = alive.slice(c * chunk, (c + 1) * chunk).map((i) => texts[i] as string);
        const cmd = { modelName: 'glove-sif-100d', modelVersion: '', inputs, normalize: true, dimensions: 0 };
        const r = await embed({ ...cmd, rejectLongInputs: false }, registry, limits, new AbortController().signal);
        parts[c] = r.vectors;
        dims = r.dims;
      }
    }),
  );
  const vectors = new Float32Array(alive.length * dims);
  parts.forEach((p, c) => {
    vectors.set(p, c * chunk * dims);
  });
  lap('embed', 0);
  const kernels = await createSelectionKernels({ provider: 'cpu', logger });
  const clusters = await sphericalKMeans(vectors, dims, {
    k,
    seed: 3,
    maxIterations: 20,
    tolerance: 1e-5,
    sampleSize: defaultPointsPerCentroid * k, // the step's defaults
    assign: kernels.assign,
  });
  lap('cluster', 0);
  const dedup = await semDedup(
    { embeddings: vectors, dims, labels: clusters.labels, centroids: clusters.centroids },
    { eps: 0.05, product: kernels.tileProduct },
  );
  lap('semdedup', dedup.removed);
  await sessions.close();
  const cpu = process.cpuUsage(cpu0);
  return { stages, kept: alive.length - dedup.removed, cpuS: (cpu.user + cpu.system) / 1e6 };
}

const baselineStarted = performance.now();
const baseline = await inProcess();
const baselineS = (performance.now() - baselineStarted) / 1000;
process.stdout.write(
  `in-process baseline: ${baselineS.toFixed(1)} s, ${(records / baselineS).toFixed(0)} records/s, ${baseline.cpuS.toFixed(1)} CPU-s; kept ${baseline.kept}\n`,
);
for (const [name, dropped, seconds] of baseline.stages) {
  process.stdout.write(
    `  ${name.padEnd(10)} ${String(dropped).padStart(7)} dropped ${seconds.toFixed(2).padStart(7)} s\n`,
  );
}

const platform = await startPlatform(dataDir, {}, { selection: true });
const usageOf = (name: string) => {
  const child = platform.children.find((c) => c.name === name);
  return child?.process.pid === undefined ? { cpuS: 0, peakRssMiB: 0 } : processUsage(child.process.pid);
};
try {
  const before = { selection: usageOf('selection'), embedding: usageOf('embedding') };
  const started = performance.now();
  const res = await fetch(`${platform.gatewayUrl}/v1/selection/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps,
      output: { path: join(dataDir, 'out') },
    }),
  });
  const { jobId } = (await res.json()) as { jobId: string };
  let job: Record<string, any> = {};
  let lastStage = '';
  /** When each stage was first seen by polling (every 200 ms): gives the load and write phases, which the report has no line for. */
  const firstSeen = new Map<string, number>();
  await waitUntil(
    async () => {
      job = ((await (await fetch(`${platform.gatewayUrl}/v1/selection/jobs/${jobId}`)).json()) as { job: any }).job;
      const { state, progress } = job.status ?? {};
      const stage = `${progress?.stage} ${progress?.done}/${progress?.total}`;
      if (progress?.stage && !firstSeen.has(progress.stage)) firstSeen.set(progress.stage, performance.now());
      if (process.argv.includes('--verbose') && stage !== lastStage) {
        process.stderr.write(`${((performance.now() - started) / 1000).toFixed(1)} s: ${stage}\n`);
        lastStage = stage;
      }
      return state === 'JOB_STATE_SUCCEEDED' || state === 'JOB_STATE_FAILED';
    },
    3_600_000,
    200,
  );
  const jobEnd = performance.now();
  const jobS = (jobEnd - started) / 1000;
  if (job.status?.state !== 'JOB_STATE_SUCCEEDED') throw new Error(`job failed: ${JSON.stringify(job.status)}`);
  const bus = await Bus.connect(platform.natsUrl, 'bench-observer');
  await waitUntil(
    async () => {
      const lag = await bus.consumerLag('SIFT_EVENTS', 'metrics-selection-decisions');
      return lag.pending === 0 && lag.ackPending === 0;
    },
    3_600_000,
    200,
  );
  await bus.close();
  const landedS = (performance.now() - started) / 1000;
  const after = { selection: usageOf('selection'), embedding: usageOf('embedding') };

  process.stdout.write(
    `job: ${jobS.toFixed(1)} s, ${(records / jobS).toFixed(0)} records/s; kept ${job.report.recordsKept} of ${job.report.recordsTotal}; ` +
      `every decision in ClickHouse after ${landedS.toFixed(1)} s\n`,
  );
  const phase = (name: string, next: string | undefined) => {
    const from = firstSeen.get(name);
    const to = (next && firstSeen.get(next)) || jobEnd;
    return from === undefined ? 'not seen' : `~${((to - from) / 1000).toFixed(1)} s`;
  };
  process.stdout.write(
    `  queue + load ${phase('queued', steps[0]?.name)}, write ${phase('write', undefined)} (from polling every 200 ms)\n`,
  );
  for (const s of job.report.stages as { stage: string; recordsIn: number; recordsKept: number; seconds: number }[]) {
    process.stdout.write(
      `  ${s.stage.padEnd(10)} ${String(s.recordsIn).padStart(8)} in ${String(s.recordsIn - s.recordsKept).padStart(7)} dropped ${s.seconds.toFixed(2).padStart(7)} s\n`,
    );
  }
  for (const name of ['selection', 'embedding'] as const) {
    process.stdout.write(
      `  ${name} process: ${(after[name].cpuS - before[name].cpuS).toFixed(1)} CPU-s, peak RSS ${after[name].peakRssMiB.toFixed(0)} MiB\n`,
    );
  }
  const platformCpuS = after.selection.cpuS - before.selection.cpuS + after.embedding.cpuS - before.embedding.cpuS;
  process.stdout.write(
    `\nsummary: job / in-process wall time ${(jobS / baselineS).toFixed(2)}x (until every decision is in ClickHouse ` +
      `${(landedS / baselineS).toFixed(2)}x); CPU of the selection and embedding processes / in-process ` +
      `${(platformCpuS / baseline.cpuS).toFixed(2)}x; kept ${job.report.recordsKept} vs ${baseline.kept} in-process\n`,
  );
} finally {
  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
