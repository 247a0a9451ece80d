/**
 * Section 2: SCIP on the same code. Corrupted copies (one and eight edits of each kind) of a sample of the
 * files are embedded with code-ngram next to every original, clustered with spherical k-means and pruned with
 * scipPrune; the share of corrupted files among the pruned rows is compared with the base rate, and
 * corruptionShift reports how far corruption moved each file.
 */
import { createFeaturizer, type Featurizer } from '@sift/featurizers';
import { createOrtAssignKernel, float32Output, type ModelStore, type SessionCache, toOrtFeeds } from '@sift/inference';
import {
  type AssignKernel,
  type KMeansResult,
  normalizeRows,
  rowDot,
  sampleIndices,
  seededRandom,
  sphericalKMeans,
} from '@sift/numeric';
import {
  type ClusterPlacement,
  type CodeCorruptionKind,
  type CorruptionShiftReport,
  clusterPlacement,
  corruptCode,
  corruptionKinds,
  corruptionShift,
  corruptionSites,
  type ScipResult,
  scipPrune,
} from '../../services/selection/src/domain/index.js';
import type { CodeCorpus, CorpusFile } from './code-corpus.js';
import { f3, out, pct, seconds, table } from './report.js';

export interface ScipOptions {
  /** Files sampled per corruption kind. */
  scipPerKind: number;
  seed: number;
}

export async function scipSection(
  sessions: SessionCache,
  store: ModelStore,
  codeCorpus: () => CodeCorpus,
  options: ScipOptions,
): Promise<void> {
  const t0 = performance.now();
  const { files } = codeCorpus();
  const random = seededRandom(options.seed + 1);
  const { featurizer, embed } = await codeNgramEmbedder(sessions, store);
  const truncated = files.map((f) => featurizer.encode(f.text).truncated);
  const original = await embed(files.map((f) => f.text));
  const embedSeconds = seconds(t0);

  // Per kind, distinct files the model reads whole (≤ maxTokens), so every edit is visible to it.
  const eligible = files.flatMap((_, i) => (truncated[i] ? [] : [i]));
  const sample = sampleCorruptionTargets(files, eligible, options.scipPerKind, random);
  out('## 2. SCIP on the same code');
  out();
  out(
    `${files.length} files embedded with code-ngram/1 (${embedSeconds}); ${truncated.filter(Boolean).length} ` +
      `are longer than its ${featurizer.maxTokens} tokens and are read only up to there, so corruptions were drawn ` +
      `from the ${eligible.length} files read whole: ${options.scipPerKind} per kind (a file may serve several kinds). ` +
      'Each run clusters the originals together with one corrupted copy of each sampled file, ' +
      'k = round(√n / 2), spherical k-means (ONNX Runtime assignment, 20 iterations); scipPrune with prune ' +
      'fraction 0.2, half of the budget on the smallest clusters, half on the farthest points.',
  );
  out();

  const assign = await createOrtAssignKernel({ threads: 2 });
  const rows: ScipRows = { shift: [], prune: [], move: [] };
  for (const edits of [1, 8]) {
    const run = await scipRun({ files, original, sample, edits, embed, assign, random, seed: options.seed });
    addScipRows(rows, run);
    if (edits === 1) {
      const { n, k, km, placement, prunedCount, originalsPruned } = run;
      out(
        `Run with ${n} rows: k = ${k}, mean cosine to centroid ${f3(km.objective)}, mean distance of an original to its ` +
          `centroid ${f3(placement.centroidDistance.subarray(0, files.length).reduce((s, d) => s + d, 0) / files.length)}; ` +
          `${prunedCount} rows pruned, ${originalsPruned} of them originals.`,
      );
      out();
    }
  }
  printScipTables(rows);
  out(`SCIP section: ${seconds(t0)}.`);
  out();
}

const dims = 128;

/** code-ngram/1 and a function that embeds texts with it in batches of 64, as unit rows [n, 128]. */
async function codeNgramEmbedder(
  sessions: SessionCache,
  store: ModelStore,
): Promise<{ featurizer: Featurizer; embed: (texts: readonly string[]) => Promise<Float32Array> }> {
  const model = await store.resolve('code-ngram', '1');
  const graph = await sessions.get(model);
  const featurizer = await createFeaturizer(model.dir, model.manifest.preprocessing ?? {}, graph.session.inputNames);
  const embed = async (texts: readonly string[]): Promise<Float32Array> => {
    const x = new Float32Array(texts.length * dims);
    for (let b0 = 0; b0 < texts.length; b0 += 64) {
      const batch = texts.slice(b0, b0 + 64).map((t) => featurizer.encode(t));
      const result = await graph.session.run(toOrtFeeds(featurizer.collate(batch)));
      x.set(float32Output(result, 'embedding').data.subarray(0, batch.length * dims), b0 * dims);
    }
    return normalizeRows(x, dims);
  };
  return { featurizer, embed };
}

/** Per kind, `perKind` distinct eligible files that have a site for that kind, ascending. */
function sampleCorruptionTargets(
  files: CorpusFile[],
  eligible: number[],
  perKind: number,
  random: () => number,
): Map<CodeCorruptionKind, number[]> {
  const sample = new Map<CodeCorruptionKind, number[]>();
  for (const kind of corruptionKinds) {
    const withSites = eligible.filter(
      (i) => corruptionSites((files[i] as CorpusFile).text, kind, { language: 'python' }).length > 0,
    );
    sample.set(
      kind,
      Array.from(sampleIndices(withSites.length, perKind, random), (k) => withSites[k] as number).sort((a, b) => a - b),
    );
  }
  return sample;
}

interface ScipRun {
  edits: number;
  /** Rows: the originals, then one corrupted copy per pair. */
  n: number;
  k: number;
  /** Original file and corrupted text of each pair. */
  pairs: { file: number; kind: CodeCorruptionKind; text: string }[];
  originals: number;
  /** All rows' embeddings [n, dims]; the corrupted copies start at row `originals`. */
  x: Float32Array;
  original: Float32Array;
  corrupted: Float32Array;
  km: KMeansResult;
  placement: { clusterSize: Int32Array; centroidDistance: Float32Array };
  shift: CorruptionShiftReport;
  pruned: ScipResult;
  prunedCount: number;
  originalsPruned: number;
}

/** One run: corrupt each sampled file `edits` times, embed, cluster originals + copies, prune. */
async function scipRun(input: {
  files: CorpusFile[];
  original: Float32Array;
  sample: Map<CodeCorruptionKind, number[]>;
  edits: number;
  embed: (texts: readonly string[]) => Promise<Float32Array>;
  assign: AssignKernel;
  random: () => number;
  seed: number;
}): Promise<ScipRun> {
  const { files, original, sample, edits, embed, assign, random, seed } = input;
  const pairs: { file: number; kind: CodeCorruptionKind; text: string }[] = [];
  for (const kind of corruptionKinds) {
    for (const file of sample.get(kind) ?? []) {
      let text = (files[file] as CorpusFile).text;
      for (let e = 0; e < edits; e++) text = corruptCode(text, kind, random, { language: 'python' })?.text ?? text;
      pairs.push({ file, kind, text });
    }
  }
  const corrupted = await embed(pairs.map((p) => p.text));
  const n = files.length + pairs.length;
  const x = new Float32Array(n * dims);
  x.set(original);
  x.set(corrupted, files.length * dims);
  const k = Math.round(Math.sqrt(n) / 2);
  const km = await sphericalKMeans(x, dims, { k, seed, assign, maxIterations: 20 });
  const clustered = { embeddings: x, dims, labels: km.labels, centroids: km.centroids };
  const placement = clusterPlacement(clustered);
  const pick = (rows: number[]): ClusterPlacement => ({
    clusterSize: rows.map((r) => placement.clusterSize[r] as number),
    centroidDistance: rows.map((r) => placement.centroidDistance[r] as number),
  });
  const shift = corruptionShift(
    pick(pairs.map((p) => p.file)),
    pick(pairs.map((_, i) => files.length + i)),
    pairs.map((p) => p.kind),
  );
  const pruned = scipPrune(clustered, { pruneFraction: 0.2, smallClusterShare: 0.5 });
  const prunedCount = n - pruned.kept.reduce((s, v) => s + v, 0);
  const originalsPruned = files.reduce((s, _, i) => s + (pruned.kept[i] === 0 ? 1 : 0), 0);
  return {
    edits,
    n,
    k,
    pairs,
    originals: files.length,
    x,
    original,
    corrupted,
    km,
    placement,
    shift,
    pruned,
    prunedCount,
    originalsPruned,
  };
}

interface ScipRows {
  shift: (string | number)[][];
  prune: (string | number)[][];
  move: (string | number)[][];
}

/** A row of each table for all kinds together and for each kind. */
function addScipRows(rows: ScipRows, run: ScipRun): void {
  const { edits, n, pairs, originals, x, original, corrupted, km, shift, pruned, prunedCount } = run;
  const groups: [string, number[]][] = [
    ['all kinds', pairs.map((_, i) => i)],
    ...corruptionKinds.map((kind): [string, number[]] => [kind, pairs.flatMap((p, i) => (p.kind === kind ? [i] : []))]),
  ];
  for (const [name, idx] of groups) {
    const corruptedPruned = idx.filter((i) => pruned.kept[originals + i] === 0).length;
    const theirOriginalsPruned = idx.filter((i) => pruned.kept[(pairs[i] as (typeof pairs)[number]).file] === 0).length;
    const distance = idx.map((i) => 1 - rowDot(x, originals + i, x, (pairs[i] as (typeof pairs)[number]).file, dims));
    const tiny = distance.filter((d) => d < 1e-6).length;
    const identical = idx.filter((i) => {
      const a = original.subarray((pairs[i] as (typeof pairs)[number]).file * dims);
      const b = corrupted.subarray(i * dims);
      for (let j = 0; j < dims; j++) if (a[j] !== b[j]) return false;
      return true;
    }).length;
    const sameCluster = idx.filter(
      (i) => km.labels[originals + i] === km.labels[(pairs[i] as (typeof pairs)[number]).file],
    ).length;
    rows.prune.push([
      edits,
      name,
      idx.length,
      pct(idx.length / n),
      pct(corruptedPruned / prunedCount),
      pct(corruptedPruned / idx.length),
      pct(theirOriginalsPruned / idx.length),
      f3(corruptedPruned / idx.length / (prunedCount / n)),
    ]);
    rows.move.push([
      edits,
      name,
      distance.length === 0 ? 'n/a' : (distance.reduce((s, d) => s + d, 0) / distance.length).toExponential(2),
      distance.length === 0 ? 'n/a' : Math.max(...distance).toExponential(2),
      pct(identical / idx.length),
      pct(tiny / idx.length),
      pct(sameCluster / idx.length),
    ]);
    const s = name === 'all kinds' ? shift : shift.byGroup[name];
    if (s !== undefined) {
      rows.shift.push([
        edits,
        name,
        s.pairs,
        f3(s.meanClusterSizeDelta),
        pct(s.smallerClusterShare),
        s.meanDistanceDelta.toExponential(2),
        pct(s.fartherShare),
      ]);
    }
  }
}

function printScipTables(rows: ScipRows): void {
  out('How far one corrupted copy moved from its original (cosine distance 1 − cos in the 128-d embedding):');
  out();
  table(
    ['edits', 'kind', 'mean distance', 'max distance', 'bit-identical embedding', 'distance < 1e-6', 'same cluster'],
    rows.move,
  );
  out('Pruning at fraction 0.2 (lift = share of corrupted copies pruned / share of all rows pruned):');
  out();
  table(
    [
      'edits',
      'kind',
      'corrupted copies',
      'base rate',
      'share of pruned rows',
      'corrupted pruned',
      'their originals pruned',
      'lift',
    ],
    rows.prune,
  );
  out('corruptionShift (corrupted − original; SCIP expects smaller clusters and larger distances):');
  out();
  table(['edits', 'kind', 'pairs', 'mean cluster size Δ', 'smaller cluster', 'mean distance Δ', 'farther'], rows.shift);
}
