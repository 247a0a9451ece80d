/**
 * MinHash LSH near-dedup throughput, memory and accuracy on synthetic text: documents of ~200 words drawn
 * from a Zipf vocabulary, ~5% of them planted near-copies of an earlier document (1–3 words replaced).
 * Prints documents/s for the signatures alone and for the whole dedup (wall clock and per CPU-second,
 * which is per core for this single-threaded code and robust to other load on the machine), peak RSS,
 * and precision/recall of the planted duplicates.
 *
 *   npx tsx bench/minhash.ts [--n 100000] [--words 200] [--vocab 50000] [--dup 0.05] [--zipf 1.0]
 */
import { cpus } from 'node:os';
import { seededRandom } from '@sift/numeric';
import {
  jaccardSimilarity,
  type MinHashDedupResult,
  minHashDedup,
  minHashSignatures,
  noTextNormalization,
  sCurve,
  shingleSet,
} from '../services/selection/src/domain/index.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const n = arg('n', 100_000);
const words = arg('words', 200);
const vocabSize = arg('vocab', 50_000);
const dupRate = arg('dup', 0.05);
const zipf = arg('zipf', 1.0);
const target = 20_000;

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
let peakSampled = 0;
const sampleRss = () => {
  peakSampled = Math.max(peakSampled, process.memoryUsage().rss);
};
// The dedup is synchronous, so a timer cannot sample inside it; the kernel's high-water mark (maxRSS) can.
const peakRss = () => Math.max(peakSampled, process.resourceUsage().maxRSS * 1024);

// Vocabulary: distinct random lower-case words; rank r has probability ∝ 1 / r^zipf.
const random = seededRandom(7);
const letters = 'abcdefghijklmnopqrstuvwxyz';
const vocabulary = new Set<string>();
while (vocabulary.size < vocabSize) {
  const length = 2 + Math.floor(random() * 5) + Math.floor(random() * 5);
  let w = '';
  for (let i = 0; i < length; i++) w += letters[Math.floor(random() * 26)];
  vocabulary.add(w);
}
const vocab = [...vocabulary];
const cdf = new Float64Array(vocabSize);
let total = 0;
for (let r = 0; r < vocabSize; r++) {
  total += 1 / (r + 1) ** zipf;
  cdf[r] = total;
}
const zipfWord = () => {
  const u = random() * total;
  let lo = 0;
  let hi = vocabSize - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cdf[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return vocab[lo] as string;
};

// Documents; a planted duplicate copies an earlier document and replaces 1–3 words.
const texts: string[] = new Array(n);
const family = new Int32Array(n);
const planted: number[] = [];
for (let i = 0; i < n; i++) {
  if (i > 0 && random() < dupRate) {
    const source = Math.floor(random() * i);
    const w = (texts[source] as string).split(' ');
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits; e++) w[Math.floor(random() * w.length)] = zipfWord();
    texts[i] = w.join(' ');
    family[i] = family[source] as number;
    planted.push(i);
  } else {
    const length = words - 20 + Math.floor(random() * 41);
    const w = new Array<string>(length);
    for (let j = 0; j < length; j++) w[j] = zipfWord();
    texts[i] = w.join(' ');
    family[i] = i;
  }
}
sampleRss();
const textBytes = texts.reduce((sum, t) => sum + t.length, 0);
const options = {
  normalization: { ...noTextNormalization, lowercase: true },
  shingleUnit: 'word' as const,
  ngramSize: 5,
  numPermutations: 128,
  threshold: 0.8,
  seed: 1,
};
process.stdout.write(
  `# minhash  n=${n} words≈${words} vocab=${vocabSize} zipf=${zipf} planted=${planted.length} (${((100 * planted.length) / n).toFixed(1)}%)  ` +
    `${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}\n` +
    `texts ${(textBytes / 1e6).toFixed(0)}M characters; lower-cased, 5-word shingles, P=128, t=0.8\n`,
);

// True Jaccard of each planted copy with its source family's first document, for the expected recall.
const plantedJ = planted.map((i) =>
  jaccardSimilarity(shingleSet(texts[i] as string, options), shingleSet(texts[family[i] as number] as string, options)),
);
const sortedJ = [...plantedJ].sort((a, b) => a - b);
const quantile = (q: number) => sortedJ[Math.min(sortedJ.length - 1, Math.floor(q * sortedJ.length))] ?? Number.NaN;
process.stdout.write(
  `planted pairs' true Jaccard: min ${quantile(0).toFixed(3)}, median ${quantile(0.5).toFixed(3)}, max ${quantile(1).toFixed(3)}; ` +
    `${plantedJ.filter((j) => j >= 0.8).length} at or above t\n`,
);

function timed<T>(run: () => T): { value: T; wallS: number; cpuS: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = run();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  sampleRss();
  return { value, wallS, cpuS: (cpu.user + cpu.system) / 1e6 };
}
const rate = (wallS: number, cpuS: number) =>
  `${(n / wallS).toFixed(0)} docs/s wall, ${(n / cpuS).toFixed(0)} docs per CPU-second ` +
  `(${wallS.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU, ${((1e6 * cpuS) / n).toFixed(1)} µs CPU per doc)`;

// Warm-up on a slice, so that the timings below measure optimised code rather than the JIT.
minHashDedup(texts.slice(0, Math.min(n, 5000)), options);
const sig = timed(() => minHashSignatures(texts, options));
process.stdout.write(`signatures (normalise + shingle + 128 permutations): ${rate(sig.wallS, sig.cpuS)}\n`);
// The baseline in the same process: the scalar TypeScript kernel, which must give the same signatures.
const sigJs = timed(() => minHashSignatures(texts, { ...options, kernel: 'js' }));
const sameSignatures = sigJs.value.every((v, i) => v === sig.value[i]);
process.stdout.write(
  `  with the scalar TypeScript kernel (baseline): ${rate(sigJs.wallS, sigJs.cpuS)}\n` +
    `  WebAssembly SIMD / TypeScript: ${(sigJs.cpuS / sig.cpuS).toFixed(2)}x per CPU-second, signatures ${sameSignatures ? 'identical' : 'DIFFERENT'}\n`,
);
process.stdout.write(`signature matrix ${mb(sig.value.byteLength)} = n·P·4 bytes\n`);

function accuracy(r: MinHashDedupResult) {
  let truePositives = 0;
  for (let i = 0; i < n; i++) {
    if (r.kept[i] === 0 && family[i] === family[r.duplicateOf[i] as number]) truePositives++;
  }
  const plantedAbove = planted.filter((_, k) => (plantedJ[k] as number) >= 0.8);
  const foundAbove = plantedAbove.filter((i) => r.kept[i] === 0).length;
  const expected = plantedJ.reduce((sum, j) => sum + (j >= 0.8 ? sCurve(j, r.bands, r.rows) : 0), 0);
  return (
    `removed ${r.removed}, candidates ${r.candidatePairs}, verified ${r.verifiedPairs}; ` +
    `precision ${(truePositives / Math.max(1, r.removed)).toFixed(4)}, recall ${(truePositives / planted.length).toFixed(4)} ` +
    `(of planted pairs with J ≥ t: ${(foundAbove / Math.max(1, plantedAbove.length)).toFixed(4)}; ` +
    `the S-curve predicts ${(expected / Math.max(1, plantedAbove.length)).toFixed(4)} before chaining)`
  );
}

const verified = timed(() => minHashDedup(texts, { ...options, verifyCandidates: true }));
process.stdout.write(
  `dedup, verified candidates (b=${verified.value.bands} × r=${verified.value.rows}): ${rate(verified.wallS, verified.cpuS)}\n  ${accuracy(verified.value)}\n`,
);
const verifiedJs = timed(() => minHashDedup(texts, { ...options, verifyCandidates: true, kernel: 'js' }));
process.stdout.write(
  `  with the scalar TypeScript kernel (baseline): ${rate(verifiedJs.wallS, verifiedJs.cpuS)}; ` +
    `WebAssembly SIMD / TypeScript ${(verifiedJs.cpuS / verified.cpuS).toFixed(2)}x, ` +
    `decisions ${verifiedJs.value.kept.every((k, i) => k === verified.value.kept[i]) ? 'identical' : 'DIFFERENT'}\n`,
);
const lshOnly = timed(() => minHashDedup(texts, { ...options, verifyCandidates: false }));
process.stdout.write(`dedup, LSH only: ${rate(lshOnly.wallS, lshOnly.cpuS)}\n  ${accuracy(lshOnly.value)}\n`);

const peak = peakRss();
const bandTables = verified.value.bands * 2 ** Math.ceil(Math.log2(2 * n)) * 12;
process.stdout.write(
  `peak RSS ${mb(peak)} (texts ${mb(textBytes)}, signatures ${mb(sig.value.byteLength)}, ` +
    `band tables ${mb(bandTables)}, bucket chains ${mb(n * verified.value.bands * 4)}; ` +
    `the whole bench process, with five results alive)\n`,
);
const perCore = n / verified.cpuS;
process.stdout.write(
  `target ≥ ${target} docs/s per core: ${perCore >= target ? 'met' : 'NOT met'} (${perCore.toFixed(0)} docs per ` +
    `CPU-second for the whole verified dedup, ${(target / (n / verifiedJs.cpuS)).toFixed(2)}x the scalar baseline's rate ` +
    `needed, ${(verifiedJs.cpuS / verified.cpuS).toFixed(2)}x measured; signatures are ` +
    `${((100 * sig.cpuS) / verified.cpuS).toFixed(0)}% of the time)\n`,
);
