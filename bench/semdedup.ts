/**
 * SemDeDup throughput and peak memory on synthetic clustered embeddings (issue 4): 1M x 100 float32 by
 * default, spherical k-means fitted on a sample and assigned to all (ONNX Runtime assignment), then
 * SemDeDup with the blocked in-cluster similarity scan. Prints embeddings/s per phase and the peak RSS
 * next to the size of the embedding matrix itself.
 *
 *   npx tsx bench/semdedup.ts [--n 1000000] [--k 2000] [--sample 100000] [--with-ts-kernel]
 */
import { cpus } from 'node:os';
import { createOrtAssignKernel } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { normalizeRows, seededRandom, sphericalKMeans } from '@sift/numeric';
import { createSelectionKernels } from '../services/selection/src/adapters/onnx-kernels.js';
import { semDedup } from '../services/selection/src/domain/index.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const n = arg('n', 1_000_000);
const k = arg('k', 2000);
const sample = arg('sample', 100_000);
const d = 100;

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 50);
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

// 5000 topics; 30% of points are near-copies (tiny noise) of another point of the same topic.
const random = seededRandom(3);
const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
const topics = normalizeRows(Float32Array.from({ length: 5000 * d }, gauss), d);
const x = new Float32Array(n * d);
for (let i = 0; i < n; i++) {
  if (i > 0 && random() < 0.3) {
    const src = Math.floor(random() * i);
    for (let j = 0; j < d; j++) x[i * d + j] = (x[src * d + j] as number) + 0.003 * gauss();
  } else {
    const t = Math.floor(random() * 5000);
    for (let j = 0; j < d; j++) x[i * d + j] = (topics[t * d + j] as number) + 0.12 * gauss();
  }
}
normalizeRows(x, d);
process.stdout.write(
  `# semdedup  n=${n} d=${d} k=${k} (fit on ${sample})  ${cpus().length} cores (${cpus()[0]?.model})\n`,
);
process.stdout.write(`embedding matrix ${mb(x.byteLength)}; rss after generating ${mb(process.memoryUsage().rss)}\n`);

let t = performance.now();
const clusters = await sphericalKMeans(x, d, {
  k,
  seed: 1,
  maxIterations: 20,
  sampleSize: sample,
  assign: await createOrtAssignKernel(),
});
const kmeansS = (performance.now() - t) / 1000;
process.stdout.write(
  `k-means (fit ${sample}, assign ${n}): ${kmeansS.toFixed(1)} s, ${(n / kmeansS).toFixed(0)} embeddings/s\n`,
);

const input = { embeddings: x, dims: d, labels: clusters.labels, centroids: clusters.centroids };
const options = { eps: 0.01, sweepEps: [0.001, 0.005, 0.01, 0.05] };
t = performance.now();
// The service's kernel: tiles on ONNX Runtime's GEMM, tiny tiles in TypeScript.
const kernels = await createSelectionKernels({ provider: 'cpu', logger: createLogger('bench', 'warn') });
const r = await semDedup(input, { ...options, product: kernels.tileProduct });
const dedupS = (performance.now() - t) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
process.stdout.write(
  `SemDeDup (ONNX Runtime tiles): ${dedupS.toFixed(1)} s, ${(n / dedupS).toFixed(0)} embeddings/s; removed ${r.removed} at eps 0.01 (planted near-copies: ~30%)\n`,
);
process.stdout.write(
  `sweep: ${r.sweep.map((p) => `eps ${p.eps}: ${(100 * p.removedFraction).toFixed(1)}%`).join(', ')}\n`,
);
if (process.argv.includes('--with-ts-kernel')) {
  t = performance.now();
  const plain = await semDedup(input, options);
  const tsS = (performance.now() - t) / 1000;
  let same = plain.removed === r.removed;
  for (let i = 0; same && i < n; i++) same = plain.kept[i] === r.kept[i];
  process.stdout.write(
    `SemDeDup (TypeScript tiles): ${tsS.toFixed(1)} s, ${(n / tsS).toFixed(0)} embeddings/s; ` +
      `ONNX Runtime speed-up ${(tsS / dedupS).toFixed(1)}x; same decisions: ${same}\n`,
  );
}
process.stdout.write(`peak RSS ${mb(peak)} = ${(peak / x.byteLength).toFixed(2)}x the embedding matrix\n`);
