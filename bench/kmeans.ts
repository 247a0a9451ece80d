/**
 * Spherical k-means against faiss and scikit-learn on the same data (issue 4): >= 100k x 100 float32,
 * k = 1000, 10 iterations, all timed in this one command. Prints seconds, time ratios and the final
 * objective (mean cosine to the assigned centroid) of each.
 *
 *   npx tsx bench/kmeans.ts [--n 100000] [--k 1000] [--iters 10]
 * Baselines need Debian's python3-faiss and python3-sklearn (run with /usr/bin/python3).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createOrtAssignKernel } from '@sift/inference';
import { repoRoot } from '@sift/launcher';
import { normalizeRows, seededRandom, sphericalKMeans } from '@sift/numeric';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const n = arg('n', 100_000);
const d = 100;
const k = arg('k', 1000);
const iters = arg('iters', 10);

// Clustered synthetic data: 2000 random directions, points spread around them with noise.
const random = seededRandom(11);
const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
const centers = normalizeRows(Float32Array.from({ length: 2000 * d }, gauss), d);
const x = new Float32Array(n * d);
for (let i = 0; i < n; i++) {
  const c = Math.floor(random() * 2000);
  for (let j = 0; j < d; j++) x[i * d + j] = (centers[c * d + j] as number) + 0.08 * gauss();
}
normalizeRows(x, d);
const outDir = join(repoRoot, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
const dataPath = join(outDir, 'kmeans-data.f32');
writeFileSync(dataPath, Buffer.from(x.buffer));

process.stdout.write(
  `# kmeans  n=${n} d=${d} k=${k} iterations=${iters}  ${cpus().length} cores (${cpus()[0]?.model})\n`,
);
const results: { name: string; seconds: number; objective: number }[] = [];

const assign = await createOrtAssignKernel();
let t = performance.now();
const ours = await sphericalKMeans(x, d, {
  k,
  maxIterations: iters,
  tolerance: Number.NEGATIVE_INFINITY,
  seed: 1,
  assign,
});
results.push({ name: 'sift (ONNX assign)', seconds: (performance.now() - t) / 1000, objective: ours.objective });
process.stdout.write(
  `sift (ONNX Runtime assignment)  ${results[0]?.seconds.toFixed(2)} s  objective ${ours.objective.toFixed(4)}\n`,
);

if (process.argv.includes('--with-ts-kernel')) {
  t = performance.now();
  const ts = await sphericalKMeans(x, d, { k, maxIterations: iters, tolerance: Number.NEGATIVE_INFINITY, seed: 1 });
  results.push({ name: 'sift (TS assign)', seconds: (performance.now() - t) / 1000, objective: ts.objective });
  process.stdout.write(
    `sift (TypeScript assignment)    ${results[1]?.seconds.toFixed(2)} s  objective ${ts.objective.toFixed(4)}\n`,
  );
}

const py = spawnSync(
  '/usr/bin/python3',
  [join(repoRoot, 'bench', 'kmeans_baselines.py'), dataPath, String(n), String(d), String(k), String(iters)],
  {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(cpus().length) },
  },
);
if (py.status !== 0) process.stdout.write(`baselines failed: ${py.stderr}\n`);
for (const line of py.stdout.split('\n').filter(Boolean)) {
  const r = JSON.parse(line);
  if (r.error) {
    process.stdout.write(`${r.name}: not available (${r.error})\n`);
    continue;
  }
  results.push(r);
  process.stdout.write(
    `${`${r.name} ${r.version}`.padEnd(31)} ${r.seconds.toFixed(2)} s  objective ${r.objective.toFixed(4)}\n`,
  );
}
const baselines = results.filter((r) => !r.name.startsWith('sift'));
if (baselines.length > 0) {
  const fastest = baselines.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  const mine = results[0] as { seconds: number; objective: number };
  process.stdout.write(
    `\nsummary: sift/${fastest.name} time ratio ${(mine.seconds / fastest.seconds).toFixed(2)} (target <= 1.5); objective ${mine.objective.toFixed(4)} vs ${fastest.objective.toFixed(4)} (${((100 * (mine.objective - fastest.objective)) / fastest.objective).toFixed(2)}%, target within 1%)\n`,
  );
}
