/**
 * Validation of the selection methods on real data found on the machine (issue 5, "Validation on real
 * data"). One command, three parts, a Markdown report on stdout (docs/selection-validation.md quotes it):
 *
 * 1. Dedup. Python files installed under /usr/lib/python3* (tests folders skipped; JavaScript from
 *    node_modules when there is no Python), plus planted exact copies (verbatim, whitespace-only and
 *    case-only variants) and lightly edited near-copies, shuffled in. Recall of exact dedup on the exact
 *    copies and of MinHash LSH on the near-copies; every drop is classified as a planted pair found, a
 *    duplicate already present among the installed files, or other.
 * 2. SCIP. Corrupted copies (one and eight edits of each kind) of a sample of those files are embedded
 *    with code-ngram next to every original, clustered with spherical k-means, pruned with scipPrune;
 *    the share of corrupted files among the pruned rows is compared with the base rate, and
 *    corruptionShift reports how far corruption moved each file.
 * 3. Text quality. Held-out English documents of byte-gpt's own sources (fortunes, WordNet glosses, man
 *    pages; held out by the recipe's hash so the model never trained on them): filter weights from
 *    byte-gpt perplexity, document scores, top 60% kept, byte-gpt bits per byte of kept vs dropped.
 *
 *   npx tsx scripts/validate-selection.ts [--files 3000] [--exact 150] [--near 150] [--scip-per-kind 100]
 *     [--docs-per-source 300] [--seed 1]
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createFeaturizer } from '@sift/featurizers';
import {
  createOrtAssignKernel,
  float32Output,
  ModelStore,
  SessionCache,
  scoreBytes,
  toOrtFeeds,
} from '@sift/inference';
import { createLogger } from '@sift/kit';
import { normalizeRows, rowDot, sampleIndices, seededRandom, sphericalKMeans } from '@sift/numeric';
import { evenlySpaced, listFiles } from '../models/builders/corpus-files.js';
import {
  type ClusterPlacement,
  type CodeCorruptionKind,
  clusterPlacement,
  corruptCode,
  corruptionKinds,
  corruptionShift,
  corruptionSites,
  exactDedup,
  jaccardSimilarity,
  minHashDedup,
  noTextNormalization,
  qualityFilters,
  qualityLines,
  scipPrune,
  shingleSet,
  type TextNormalization,
  type TextQualityResult,
  textQuality,
} from '../services/selection/src/domain/index.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const maxFiles = flag('files', 3000);
const exactCount = flag('exact', 150);
const nearCount = flag('near', 150);
const scipPerKind = flag('scip-per-kind', 100);
const docsPerSource = flag('docs-per-source', 300);
const seed = flag('seed', 1);
const repoRoot = resolve(import.meta.dirname, '..');
const started = performance.now();
const out = (s = '') => process.stdout.write(`${s}\n`);
const seconds = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
function table(head: string[], rows: (string | number)[][]): void {
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) out(`| ${r.join(' | ')} |`);
  out();
}

out('# Selection validation on real data');
out();
out(`- command: \`${['npx tsx scripts/validate-selection.ts', ...process.argv.slice(2)].join(' ')}\``);
out(`- date: ${new Date().toISOString()}; node ${process.version}`);
out(`- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
out(`- seed ${seed}`);
out();

// ------------------------------------------------------------------------------------------ code corpus

interface CorpusFile {
  path: string;
  text: string;
}

interface CodeCorpus {
  files: CorpusFile[];
  language: 'python' | 'javascript';
  listed: number;
  roots: string[];
}
let codeCorpusRead: CodeCorpus | undefined;

/** Python under /usr/lib/python3*, tests folders skipped, ≤ 200 KB, evenly spaced over the sorted list. */
function codeCorpus(): CodeCorpus {
  codeCorpusRead ??= readCodeCorpus();
  return codeCorpusRead;
}

function readCodeCorpus(): CodeCorpus {
  const isTestDir = /(^|\/)(tests?|testing|idle_test)\//;
  const pick = (root: string, ext: string) =>
    listFiles(root, (name) => name.endsWith(ext))
      .filter((p) => !isTestDir.test(p))
      .map((p) => join(root, p))
      .filter((p) => {
        const size = statSync(p).size;
        return size <= 200_000;
      });
  const roots = readdirSync('/usr/lib')
    .filter((d) => /^python3(\.\d+)?$/.test(d) && !lstatSync(join('/usr/lib', d)).isSymbolicLink())
    .map((d) => join('/usr/lib', d))
    .sort();
  let language: 'python' | 'javascript' = 'python';
  let paths = roots.flatMap((r) => pick(r, '.py'));
  if (paths.length === 0) {
    language = 'javascript';
    roots.splice(0, roots.length, join(repoRoot, 'node_modules'));
    paths = pick(roots[0] as string, '.js');
  }
  const files = evenlySpaced(paths, maxFiles).map((path) => ({ path, text: readFileSync(path, 'utf8') }));
  return { files, language, listed: paths.length, roots };
}

const pythonWords = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield self'.split(
    ' ',
  ),
);

/** Identifier-like words of a text (≥ 3 characters, not keywords). */
function identifiersOf(text: string): string[] {
  return (text.match(/\b[A-Za-z_][A-Za-z0-9_]{2,}\b/g) ?? []).filter((w) => !pythonWords.has(w));
}

type ExactVariant = 'verbatim' | 'whitespace' | 'case';
type NearEdit = 'change-line' | 'add-lines' | 'remove-lines' | 'rename-identifier' | 'add-comment';
const nearEdits: NearEdit[] = ['change-line', 'add-lines', 'remove-lines', 'rename-identifier', 'add-comment'];

/** An exact copy: as is, with only whitespace changed (CRLF, trailing blanks), or a few lines upper-cased. */
function exactVariant(text: string, variant: ExactVariant, random: () => number): string {
  if (variant === 'verbatim') return text;
  const lines = text.split('\n');
  if (variant === 'whitespace') return lines.map((l) => (random() < 0.3 ? `${l}  \t` : l)).join('\r\n');
  const cased = lines.flatMap((l, i) => (/[a-z]/.test(l) ? [i] : []));
  const upper = Math.max(1, Math.round(lines.length * 0.05));
  for (let k = 0; k < upper && cased.length > 0; k++) {
    const i = cased[Math.floor(random() * cased.length)] as number;
    lines[i] = (lines[i] as string).toUpperCase();
  }
  return lines.join('\n');
}

/** One light edit of a near-copy, on its lines. */
function applyNearEdit(lines: string[], edit: NearEdit, random: () => number): void {
  const at = (n: number) => Math.floor(random() * n);
  const indentOf = (l: string) => /^\s*/.exec(l)?.[0] ?? '';
  const names = identifiersOf(lines.join('\n'));
  const name = () => names[at(names.length)] ?? 'value';
  const nonBlank = lines.flatMap((l, i) => (/[A-Za-z_]{3,}/.test(l) ? [i] : []));
  switch (edit) {
    case 'change-line': {
      const i = nonBlank[at(nonBlank.length)] ?? 0;
      const words = (lines[i] ?? '').match(/\b[A-Za-z_]\w{2,}\b/g) ?? [];
      const word = words[at(words.length)];
      if (word !== undefined) lines[i] = (lines[i] as string).replace(new RegExp(`\\b${word}\\b`), name());
      return;
    }
    case 'add-lines': {
      const i = at(lines.length + 1);
      const indent = indentOf(lines[i] ?? lines[i - 1] ?? '');
      const added = Array.from({ length: 1 + at(3) }, () => `${indent}${name()} = ${name()}(${name()})`);
      lines.splice(i, 0, ...added);
      return;
    }
    case 'remove-lines': {
      const count = Math.min(1 + at(3), lines.length - 1);
      lines.splice(at(lines.length - count + 1), count);
      return;
    }
    case 'rename-identifier': {
      const counts = new Map<string, number>();
      for (const w of names) counts.set(w, (counts.get(w) ?? 0) + 1);
      const candidates = [...counts].filter(([, c]) => c >= 2).map(([w]) => w);
      const old = candidates[at(candidates.length)];
      if (old === undefined) return;
      const pattern = new RegExp(`\\b${old}\\b`, 'g');
      for (let i = 0; i < lines.length; i++) lines[i] = (lines[i] as string).replace(pattern, `${old}_renamed`);
      return;
    }
    case 'add-comment': {
      const i = at(lines.length + 1);
      lines.splice(i, 0, `${indentOf(lines[i] ?? '')}# Note: keep this in step with the caller's expectations.`);
      return;
    }
  }
}

// ------------------------------------------------------------------------------------------------ dedup

interface Corpus {
  texts: string[];
  /** 'file' for an installed file, else the planted variant / 'near'. */
  role: string[];
  /** Index (in `texts`) of the original of a planted record; -1 for installed files. */
  originOf: Int32Array;
  path: string[];
}

/** Survivor of each record's group: itself when kept. */
const survivorOf = (kept: Uint8Array, duplicateOf: Int32Array, i: number) =>
  kept[i] === 1 ? i : (duplicateOf[i] as number);

interface DropBreakdown {
  drops: number;
  /** Planted pairs in one group, by role. */
  found: Map<string, number>;
  /** Extra installed files in a group beyond its first: duplicates already present on the machine. */
  preExisting: number;
  /** Planted copies grouped with something but not with their original. */
  other: number;
  /** (dropped installed file, survivor) pairs among the pre-existing duplicates. */
  examples: [number, number][];
}

/** Classifies the drops of a dedup run group by group (see {@link DropBreakdown}). */
function breakdown(corpus: Corpus, kept: Uint8Array, duplicateOf: Int32Array): DropBreakdown {
  const n = corpus.texts.length;
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const s = survivorOf(kept, duplicateOf, i);
    const g = groups.get(s);
    if (g === undefined) groups.set(s, [i]);
    else g.push(i);
  }
  const result: DropBreakdown = { drops: 0, found: new Map(), preExisting: 0, other: 0, examples: [] };
  for (const [survivor, members] of groups) {
    if (members.length < 2) continue;
    result.drops += members.length - 1;
    const inGroup = new Set(members);
    const files = members.filter((i) => corpus.role[i] === 'file');
    if (files.length > 1) {
      result.preExisting += files.length - 1;
      const anchor = corpus.role[survivor] === 'file' ? survivor : (files[0] as number);
      for (const f of files) if (f !== anchor && result.examples.length < 400) result.examples.push([f, anchor]);
    }
    for (const i of members) {
      if (corpus.role[i] === 'file') continue;
      const role = corpus.role[i] as string;
      if (inGroup.has(corpus.originOf[i] as number)) result.found.set(role, (result.found.get(role) ?? 0) + 1);
      else result.other++;
    }
    // A group of copies only (original absent) keeps one of them: that drop is counted above per copy.
    if (files.length === 0) result.other--;
  }
  return result;
}

function dedupSection(): void {
  const t0 = performance.now();
  const { files, language, listed, roots } = codeCorpus();
  const random = seededRandom(seed);
  const bytes = files.reduce((s, f) => s + Buffer.byteLength(f.text), 0);
  out('## 1. Exact and MinHash dedup on installed code');
  out();
  out(
    `Corpus: ${files.length} ${language} files (evenly spaced over ${listed} sorted files ≤ 200 KB under ` +
      `${roots.join(', ')}, tests folders skipped), ${(bytes / 1e6).toFixed(1)} MB.`,
  );

  // Planted records: originals drawn without replacement, disjoint between exact and near copies.
  const order = sampleIndices(files.length, files.length, random);
  const lineCount = (t: string) => t.split('\n').filter((l) => l.trim() !== '').length;
  const nearOriginals: number[] = [];
  const exactOriginals: number[] = [];
  for (const i of order) {
    const text = (files[i] as CorpusFile).text;
    if (nearOriginals.length < nearCount && lineCount(text) >= 20) nearOriginals.push(i);
    else if (exactOriginals.length < exactCount && text.trim() !== '') exactOriginals.push(i);
  }
  const records: { text: string; role: string; origin: number; path: string }[] = files.map((f) => ({
    text: f.text,
    role: 'file',
    origin: -1,
    path: f.path,
  }));
  const variants: ExactVariant[] = ['verbatim', 'whitespace', 'case'];
  exactOriginals.forEach((o, k) => {
    // 60% verbatim, 20% whitespace-only, 20% case-only.
    const variant = variants[k < 0.6 * exactCount ? 0 : k < 0.8 * exactCount ? 1 : 2] as ExactVariant;
    const f = files[o] as CorpusFile;
    records.push({ text: exactVariant(f.text, variant, random), role: `exact:${variant}`, origin: o, path: f.path });
  });
  const editsUsed = new Map<NearEdit, number>();
  for (const o of nearOriginals) {
    const f = files[o] as CorpusFile;
    let text = f.text;
    while (text === f.text) {
      const lines = f.text.split('\n');
      for (let e = 0; e < 3; e++) {
        const edit = nearEdits[Math.floor(random() * nearEdits.length)] as NearEdit;
        editsUsed.set(edit, (editsUsed.get(edit) ?? 0) + 1);
        applyNearEdit(lines, edit, random);
      }
      text = lines.join('\n');
    }
    records.push({ text, role: 'near', origin: o, path: f.path });
  }
  // Shuffle, so that a copy comes before its original about half the time (then the original is dropped).
  const perm = sampleIndices(records.length, records.length, random);
  const position = new Int32Array(records.length);
  perm.forEach((r, p) => {
    position[r] = p;
  });
  const shuffled = Array.from(perm, (r) => records[r] as (typeof records)[number]);
  const corpus: Corpus = {
    texts: shuffled.map((r) => r.text),
    role: shuffled.map((r) => r.role),
    originOf: Int32Array.from(shuffled, (r) => (r.origin < 0 ? -1 : (position[r.origin] as number))),
    path: shuffled.map((r) => r.path),
  };
  const plantedOf = (role: string) => corpus.role.filter((r) => r === role).length;
  out(
    `Planted: ${exactOriginals.length} exact copies (${plantedOf('exact:verbatim')} verbatim, ` +
      `${plantedOf('exact:whitespace')} whitespace-only: CRLF line ends and trailing blanks on ~30% of lines, ` +
      `${plantedOf('exact:case')} case-only: ~5% of lines upper-cased) and ${nearOriginals.length} near-copies of ` +
      `files with ≥ 20 non-blank lines, 3 edits each drawn from ${nearEdits.join(', ')} ` +
      `(used: ${[...editsUsed].map(([e, c]) => `${e} ${c}`).join(', ')}); ${corpus.texts.length} records, shuffled.`,
  );
  out();
  const describeDrops = (b: DropBreakdown) => [
    b.drops,
    [...b.found.values()].reduce((s, c) => s + c, 0),
    b.preExisting,
    b.other,
  ];
  const recall = (b: DropBreakdown, role: string) => {
    const total = plantedOf(role);
    return total === 0 ? 'n/a' : `${b.found.get(role) ?? 0}/${total}`;
  };

  // Exact dedup: no normalisation, then lower-case + collapsed whitespace.
  const exactConfigs: [string, TextNormalization][] = [
    ['none', noTextNormalization],
    ['lowercase + collapseWhitespace', { ...noTextNormalization, lowercase: true, collapseWhitespace: true }],
  ];
  const exactRows: (string | number)[][] = [];
  let exactExamples: DropBreakdown | undefined;
  for (const [name, normalization] of exactConfigs) {
    const t = performance.now();
    const r = exactDedup(corpus.texts, { normalization });
    const b = breakdown(corpus, r.kept, r.duplicateOf);
    exactExamples ??= b;
    exactRows.push([
      name,
      recall(b, 'exact:verbatim'),
      recall(b, 'exact:whitespace'),
      recall(b, 'exact:case'),
      recall(b, 'near'),
      ...describeDrops(b),
      seconds(t),
    ]);
  }
  out('### Exact dedup (SHA-256 of the normalised text)');
  out();
  table(
    [
      'normalisation',
      'verbatim found',
      'whitespace-only found',
      'case-only found',
      'near-copies dropped',
      'drops',
      'planted pairs',
      'already duplicated on disk',
      'other',
      'time',
    ],
    exactRows,
  );
  if (exactExamples !== undefined) describePreExisting(corpus, exactExamples, 'exact');

  out('### MinHash LSH (5-word shingles, 128 permutations, candidates verified by exact Jaccard)');
  out();
  // Exact Jaccard of each planted near pair, the quantity the threshold is about.
  const nearPairs = corpus.role.flatMap((r, i) => (r === 'near' ? [i] : []));
  const pairJaccard = new Map<number, number>();
  for (const c of nearPairs) {
    const o = corpus.originOf[c] as number;
    pairJaccard.set(c, jaccardSimilarity(shingleSet(corpus.texts[c] as string), shingleSet(corpus.texts[o] as string)));
  }
  const buckets: [string, number, number][] = [
    ['< 0.6', 0, 0.6],
    ['0.6–0.7', 0.6, 0.7],
    ['0.7–0.8', 0.7, 0.8],
    ['0.8–0.9', 0.8, 0.9],
    ['0.9–0.95', 0.9, 0.95],
    ['≥ 0.95', 0.95, 1.01],
  ];
  const minHashRows: (string | number)[][] = [];
  const bucketFound: Map<string, number>[] = [];
  let minHashExamples: DropBreakdown | undefined;
  const thresholds = [0.8, 0.7];
  for (const threshold of thresholds) {
    const t = performance.now();
    const r = minHashDedup(corpus.texts, { threshold, ngramSize: 5, numPermutations: 128, seed });
    const b = breakdown(corpus, r.kept, r.duplicateOf);
    if (threshold === 0.8) minHashExamples = b;
    const found = new Map<string, number>();
    for (const c of nearPairs) {
      const o = corpus.originOf[c] as number;
      if (survivorOf(r.kept, r.duplicateOf, c) !== survivorOf(r.kept, r.duplicateOf, o)) continue;
      const j = pairJaccard.get(c) as number;
      const bucket = buckets.find(([, lo, hi]) => j >= lo && j < hi)?.[0] as string;
      found.set(bucket, (found.get(bucket) ?? 0) + 1);
    }
    bucketFound.push(found);
    minHashRows.push([
      threshold,
      `${r.bands} × ${r.rows}`,
      recall(b, 'near'),
      variants.map((v) => recall(b, `exact:${v}`)).join(', '),
      ...describeDrops(b),
      r.candidatePairs,
      seconds(t),
    ]);
  }
  table(
    [
      'threshold',
      'bands × rows',
      'near-copies found',
      'exact copies found (verbatim, whitespace, case)',
      'drops',
      'planted pairs',
      'already duplicated on disk',
      'other',
      'candidate pairs',
      'time',
    ],
    minHashRows,
  );
  out('Recall on the near-copies by their exact 5-gram Jaccard similarity to the original:');
  out();
  table(
    ['Jaccard to original', 'near-copies', ...thresholds.map((t) => `found at ${t}`)],
    buckets.map(([name, lo, hi]) => {
      const total = nearPairs.filter((c) => {
        const j = pairJaccard.get(c) as number;
        return j >= lo && j < hi;
      }).length;
      return [name, total, ...bucketFound.map((m) => (total === 0 ? 'n/a' : pct((m.get(name) ?? 0) / total)))];
    }),
  );
  if (minHashExamples !== undefined) describePreExisting(corpus, minHashExamples, 'minhash');
  out(`Dedup section: ${seconds(t0)}.`);
  out();
}

/** What the duplicates already present among the installed files are, with a few examples. */
function describePreExisting(corpus: Corpus, b: DropBreakdown, method: 'exact' | 'minhash'): void {
  if (b.examples.length === 0) return;
  const short = (p: string) => p.replace(/^\/usr\/lib\//, '');
  const identical = b.examples.filter(([d, s]) => corpus.texts[d] === corpus.texts[s]).length;
  const empty = b.examples.filter(([d]) => (corpus.texts[d] as string).trim() === '').length;
  const sameName = b.examples.filter(
    ([d, s]) => (corpus.path[d] as string).split('/').pop() === (corpus.path[s] as string).split('/').pop(),
  ).length;
  out(
    `Duplicates already on disk (${method}, first normalisation/threshold): ${b.preExisting} drops; of the ` +
      `${b.examples.length} inspected pairs ${identical} are byte-identical files, ${empty} are empty or ` +
      `blank files, ${sameName} share the file name. Examples (dropped ← kept):`,
  );
  out();
  const nonEmpty = b.examples.filter(([d]) => (corpus.texts[d] as string).trim() !== '');
  const shown = evenlySpaced(nonEmpty, 5);
  for (const [d, s] of shown) {
    const j = jaccardSimilarity(shingleSet(corpus.texts[d] as string), shingleSet(corpus.texts[s] as string));
    const same = corpus.texts[d] === corpus.texts[s] ? 'identical' : `Jaccard ${f3(j)}`;
    out(`- \`${short(corpus.path[d] as string)}\` ← \`${short(corpus.path[s] as string)}\` (${same})`);
  }
  out();
}

// ------------------------------------------------------------------------------------------------- SCIP

async function scipSection(sessions: SessionCache, store: ModelStore): Promise<void> {
  const t0 = performance.now();
  const { files } = codeCorpus();
  const random = seededRandom(seed + 1);
  const model = await store.resolve('code-ngram', '1');
  const graph = await sessions.get(model);
  const featurizer = await createFeaturizer(model.dir, model.manifest.preprocessing ?? {}, graph.session.inputNames);
  const dims = 128;
  const embed = async (texts: readonly string[]): Promise<Float32Array> => {
    const x = new Float32Array(texts.length * dims);
    for (let b0 = 0; b0 < texts.length; b0 += 64) {
      const batch = texts.slice(b0, b0 + 64).map((t) => featurizer.encode(t));
      const result = await graph.session.run(toOrtFeeds(featurizer.collate(batch)));
      x.set(float32Output(result, 'embedding').data.subarray(0, batch.length * dims), b0 * dims);
    }
    return normalizeRows(x, dims);
  };
  const truncated = files.map((f) => featurizer.encode(f.text).truncated);
  const original = await embed(files.map((f) => f.text));
  const embedSeconds = seconds(t0);

  // Per kind, distinct files the model reads whole (≤ maxTokens), so every edit is visible to it.
  const eligible = files.flatMap((_, i) => (truncated[i] ? [] : [i]));
  const sample = new Map<CodeCorruptionKind, number[]>();
  for (const kind of corruptionKinds) {
    const withSites = eligible.filter(
      (i) => corruptionSites((files[i] as CorpusFile).text, kind, { language: 'python' }).length > 0,
    );
    sample.set(
      kind,
      Array.from(sampleIndices(withSites.length, scipPerKind, random), (k) => withSites[k] as number).sort(
        (a, b) => a - b,
      ),
    );
  }
  out('## 2. SCIP on the same code');
  out();
  out(
    `${files.length} files embedded with code-ngram/1 (${embedSeconds}); ${truncated.filter(Boolean).length} ` +
      `are longer than its ${featurizer.maxTokens} tokens and are read only up to there, so corruptions were drawn ` +
      `from the ${eligible.length} files read whole: ${scipPerKind} per kind (a file may serve several kinds). ` +
      'Each run clusters the originals together with one corrupted copy of each sampled file, ' +
      'k = round(√n / 2), spherical k-means (ONNX Runtime assignment, 20 iterations); scipPrune with prune ' +
      'fraction 0.2, half of the budget on the smallest clusters, half on the farthest points.',
  );
  out();

  const assign = await createOrtAssignKernel({ threads: 2 });
  const shiftRows: (string | number)[][] = [];
  const pruneRows: (string | number)[][] = [];
  const moveRows: (string | number)[][] = [];
  for (const edits of [1, 8]) {
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
    const groups: [string, number[]][] = [
      ['all kinds', pairs.map((_, i) => i)],
      ...corruptionKinds.map((kind): [string, number[]] => [
        kind,
        pairs.flatMap((p, i) => (p.kind === kind ? [i] : [])),
      ]),
    ];
    for (const [name, idx] of groups) {
      const corruptedPruned = idx.filter((i) => pruned.kept[files.length + i] === 0).length;
      const theirOriginalsPruned = idx.filter(
        (i) => pruned.kept[(pairs[i] as (typeof pairs)[number]).file] === 0,
      ).length;
      const distance = idx.map(
        (i) => 1 - rowDot(x, files.length + i, x, (pairs[i] as (typeof pairs)[number]).file, dims),
      );
      const tiny = distance.filter((d) => d < 1e-6).length;
      const identical = idx.filter((i) => {
        const a = original.subarray((pairs[i] as (typeof pairs)[number]).file * dims);
        const b = corrupted.subarray(i * dims);
        for (let j = 0; j < dims; j++) if (a[j] !== b[j]) return false;
        return true;
      }).length;
      const sameCluster = idx.filter(
        (i) => km.labels[files.length + i] === km.labels[(pairs[i] as (typeof pairs)[number]).file],
      ).length;
      pruneRows.push([
        edits,
        name,
        idx.length,
        pct(idx.length / n),
        pct(corruptedPruned / prunedCount),
        pct(corruptedPruned / idx.length),
        pct(theirOriginalsPruned / idx.length),
        f3(corruptedPruned / idx.length / (prunedCount / n)),
      ]);
      moveRows.push([
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
        shiftRows.push([
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
    if (edits === 1) {
      out(
        `Run with ${n} rows: k = ${k}, mean cosine to centroid ${f3(km.objective)}, mean distance of an original to its ` +
          `centroid ${f3(placement.centroidDistance.subarray(0, files.length).reduce((s, d) => s + d, 0) / files.length)}; ` +
          `${prunedCount} rows pruned, ${originalsPruned} of them originals.`,
      );
      out();
    }
  }
  out('How far one corrupted copy moved from its original (cosine distance 1 − cos in the 128-d embedding):');
  out();
  table(
    ['edits', 'kind', 'mean distance', 'max distance', 'bit-identical embedding', 'distance < 1e-6', 'same cluster'],
    moveRows,
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
    pruneRows,
  );
  out('corruptionShift (corrupted − original; SCIP expects smaller clusters and larger distances):');
  out();
  table(['edits', 'kind', 'pairs', 'mean cluster size Δ', 'smaller cluster', 'mean distance Δ', 'farther'], shiftRows);
  out(`SCIP section: ${seconds(t0)}.`);
  out();
}

// ----------------------------------------------------------------------------------------- text quality

/** byte-gpt's held-out rule (models/recipes/data_prep.py): sha1("source:id") first 4 bytes % 20 == 0. */
function heldOut(source: string, id: string): boolean {
  return createHash('sha1').update(`${source}:${id}`).digest().readUInt32BE(0) % 20 === 0;
}

/** Whole held-out fortunes, consecutive ones of one file joined until a document has ≥ 5 lines. */
function fortuneDocuments(): string[] {
  const root = '/usr/share/games/fortunes';
  if (!existsSync(root)) return [];
  const docs: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name);
    if (name.includes('.') || name === 'ascii-art' || lstatSync(path).isSymbolicLink()) continue;
    let current: string[] = [];
    readFileSync(path, 'utf8')
      .split(/^%\s*$/m)
      .forEach((chunk, i) => {
        const text = chunk.replace(/^\n+|\n+$/g, '');
        if (text.trim() === '' || !heldOut('fortunes', `${name}/${i}`)) return;
        const lines = text.split('\n');
        if (lines.length > 20) return;
        current.push(...lines);
        if (current.length >= 5) {
          docs.push(current.join('\n'));
          current = [];
        }
      });
  }
  return docs;
}

/** Held-out WordNet synsets as "lemma, lemma: gloss" lines, 8 per document. */
function wordnetDocuments(): string[] {
  const lines: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    const path = `/usr/share/wordnet/data.${pos}`;
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.startsWith('  ') || !line.includes(' | ')) continue;
      const [head, gloss] = line.split(' | ', 2) as [string, string];
      const fields = head.split(' ');
      if (!heldOut('wordnet', `${pos}/${fields[0]}`)) continue;
      const count = Number.parseInt(fields[3] ?? '0', 16);
      const words = Array.from({ length: count }, (_, k) =>
        (fields[4 + 2 * k] ?? '').replace(/_/g, ' ').replace(/\([a-z]+\)$/, ''),
      );
      lines.push(`${words.join(', ')}: ${gloss.trim()}`);
    }
  }
  const docs: string[] = [];
  for (let i = 0; i + 8 <= lines.length; i += 8) docs.push(lines.slice(i, i + 8).join('\n'));
  return docs;
}

/** Text of a man(7) page with the roff requests and escapes removed (roughly); undefined for mdoc and .so. */
function manText(source: string): string | undefined {
  if (/^\.(so|Dd|Sh)\s/m.test(source)) return undefined;
  const inline = (s: string) =>
    s
      .replace(/\\".*$/, '')
      .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
      .replace(/\\\((em|en)/g, '-')
      .replace(/\\\(bu/g, '*')
      .replace(/\\\(..|\\\[[^\]]*\]|\\\*(\[[^\]]*\]|\(..|.)|\\s[+-]?\d/g, '')
      .replace(/\\[-e&|^%]/g, (m) => ({ '\\-': '-', '\\e': '\\' })[m] ?? '')
      .replace(/\\(.)/g, '$1');
  const args = (rest: string) => (rest.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"|"$/g, ''));
  const lines: string[] = [];
  let skipUntil: string | undefined;
  for (const line of source.split('\n')) {
    if (skipUntil !== undefined) {
      if (line.startsWith(skipUntil)) skipUntil = undefined;
      continue;
    }
    const request = /^[.'][ \t]*(\S+)[ \t]*(.*)$/.exec(line);
    if (request === null) {
      lines.push(inline(line));
      continue;
    }
    const [, name, rest = ''] = request;
    if (name === 'de' || name === 'ig') skipUntil = '..';
    else if (name === 'TS') skipUntil = '.TE';
    else if (name !== undefined && ['B', 'I', 'SH', 'SS', 'SM', 'SB'].includes(name))
      lines.push(inline(args(rest).join(' ')));
    else if (name !== undefined && /^[BIR]{2}$/.test(name)) lines.push(inline(args(rest).join('')));
  }
  return lines.join('\n');
}

/** Held-out English man pages (sections 1–8), two 10-line chunks each: the start and the middle. */
function manDocuments(): string[] {
  const docs: string[] = [];
  for (let s = 1; s <= 8; s++) {
    const dir = `/usr/share/man/man${s}`;
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (!name.endsWith('.gz') || lstatSync(path).isSymbolicLink() || !heldOut('man', `man${s}/${name}`)) continue;
      let text: string | undefined;
      try {
        text = manText(gunzipSync(readFileSync(path)).toString('utf8'));
      } catch {
        continue;
      }
      const lines = (text ?? '').split('\n').filter((l) => l.trim() !== '');
      const chunks = Math.floor(lines.length / 10);
      for (const c of chunks === 0 ? [] : [...new Set([0, Math.floor(chunks / 2)])]) {
        docs.push(lines.slice(c * 10, c * 10 + 10).join('\n'));
      }
    }
  }
  return docs;
}

async function textSection(sessions: SessionCache, store: ModelStore): Promise<void> {
  const t0 = performance.now();
  const model = await store.resolve('byte-gpt', '1');
  const graph = await sessions.get(model);
  const contextLength = Number(model.manifest.preprocessing?.maxSequence ?? 256);
  const sourceNames = ['fortunes', 'wordnet', 'man'];
  const sources = [fortuneDocuments(), wordnetDocuments(), manDocuments()];
  const picked = sources.flatMap((docs, s) =>
    evenlySpaced(docs, docsPerSource).map((text) => ({ text, source: sourceNames[s] as string })),
  );
  // Shuffled, because scoreDocuments breaks equal scores by position: in source order a tie would
  // always favour the first source.
  const order = sampleIndices(picked.length, picked.length, seededRandom(seed + 2));
  const texts = Array.from(order, (i) => (picked[i] as (typeof picked)[number]).text);
  const sourceOf = Array.from(order, (i) => (picked[i] as (typeof picked)[number]).source);
  out('## 3. Text-quality filter weights from byte-gpt perplexity');
  out();
  const lineTotal = texts.reduce((s, t) => s + qualityLines(t).length, 0);
  out(
    `Documents held out from byte-gpt's training by the recipe's hash (available: ` +
      `${sources.map((d, s) => `${sourceNames[s]} ${d.length}`).join(', ')}), up to ${docsPerSource} evenly spaced ` +
      `per source: ${texts.length} documents, ${lineTotal} non-blank lines, ` +
      `${texts.reduce((s, t) => s + Buffer.byteLength(t), 0)} bytes, shuffled. Fortunes: consecutive fortunes ` +
      'joined to ≥ 5 lines; WordNet: 8 "lemmas: gloss" lines; man pages: roff stripped, 10-line chunks (start ' +
      'and middle of the page). Every document is in the weight sample; keep fraction 0.6; the mixed corpus ' +
      'and each source alone.',
  );
  out();

  // Lines are scored one by one and cached: a set's perplexity is then exact (scoreBytes scores each line
  // as its own windows anyway) without running the model again for each filter and each run.
  const lineScore = new Map<string, { nll: number; bytes: number }>();
  const perplexity = async (lines: string[]) => {
    let nll = 0;
    let bytes = 0;
    for (const line of lines) {
      let s = lineScore.get(line);
      if (s === undefined) {
        s = { nll: 0, bytes: 0 };
        if (Buffer.byteLength(line) >= 2) {
          const r = await scoreBytes(graph.session, [line], { contextLength });
          s = { nll: r.bitsPerByte * r.bytesScored, bytes: r.bytesScored };
        }
        lineScore.set(line, s);
      }
      nll += s.nll;
      bytes += s.bytes;
    }
    return 2 ** (nll / bytes);
  };
  // Whole documents, each scored in 256-byte windows (context across its lines).
  const docScore: { nll: number; bytes: number; bpb: number }[] = [];
  for (const t of texts) {
    const r = await scoreBytes(graph.session, [t], { contextLength });
    docScore.push({ nll: r.bitsPerByte * r.bytesScored, bytes: r.bytesScored, bpb: r.bitsPerByte });
  }
  const pooled = (idx: number[]) => {
    const nll = idx.reduce((s, i) => s + (docScore[i]?.nll ?? 0), 0);
    const bytes = idx.reduce((s, i) => s + (docScore[i]?.bytes ?? 0), 0);
    return bytes === 0 ? Number.NaN : nll / bytes;
  };
  const median = (idx: number[]) => {
    const v = idx.map((i) => docScore[i]?.bpb ?? 0).sort((a, b) => a - b);
    return v.length === 0 ? Number.NaN : (v[Math.floor(v.length / 2)] as number);
  };

  const filters = qualityFilters();
  const runs: { name: string; idx: number[]; result: TextQualityResult }[] = [];
  for (const name of ['mixed', ...sourceNames]) {
    const idx = texts.flatMap((_, i) => (name === 'mixed' || sourceOf[i] === name ? [i] : []));
    if (idx.length === 0) continue;
    const result = await textQuality(
      idx.map((i) => texts[i] as string),
      { keepFraction: 0.6, perplexity, filters, weightSampleSize: idx.length, seed },
    );
    runs.push({ name, idx, result });
  }
  const mixed = runs[0]?.result;
  if (mixed === undefined) return;
  out(
    'Filter weights w_i = max(0, (PPL_all − PPL_i) / PPL_all), line perplexity from byte-gpt (each line scored ' +
      `alone); bits per byte of all lines: ${runs.map((r) => `${r.name} ${f3(Math.log2(r.result.pplAll))}`).join(', ')}.`,
  );
  out();
  table(
    ['filter', 'lines passed (mixed)', 'bits/byte of passed lines (mixed)', ...runs.map((r) => `w_i ${r.name}`)],
    mixed.filters.map((name, f) => [
      name,
      `${mixed.linesKept[f]}/${lineTotal}`,
      f3(Math.log2(mixed.pplPerFilter[f] as number)),
      ...runs.map((r) => f3(r.result.weights[f] as number)),
    ]),
  );
  // What a random choice of the same number of documents gives: the 2.5–97.5 percentiles of the
  // dropped − kept gap over 1000 seeded draws, so a gap inside that range is no evidence of anything.
  const randomGap = (idx: number[], keepCount: number) => {
    const random = seededRandom(seed + 3);
    const gaps: number[] = [];
    for (let draw = 0; draw < 1000; draw++) {
      const perm = sampleIndices(idx.length, idx.length, random);
      const kept = Array.from(perm.subarray(0, keepCount), (k) => idx[k] as number);
      const dropped = Array.from(perm.subarray(keepCount), (k) => idx[k] as number);
      gaps.push(pooled(dropped) - pooled(kept));
    }
    gaps.sort((a, b) => a - b);
    return `${f3(gaps[25] as number)} … ${f3(gaps[974] as number)}`;
  };
  const rows: (string | number)[][] = [];
  const describe = (label: string, idx: number[], keptOf: (i: number) => boolean, scoreOf: (i: number) => number) => {
    const kept = idx.filter(keptOf);
    const dropped = idx.filter((i) => !keptOf(i));
    rows.push([
      label,
      idx.length,
      new Set(idx.map(scoreOf)).size,
      pct(kept.length / idx.length),
      f3(pooled(kept)),
      f3(pooled(dropped)),
      f3(median(kept)),
      f3(median(dropped)),
      f3(pooled(dropped) - pooled(kept)),
      randomGap(idx, kept.length),
      f3(
        spearman(
          idx.map(scoreOf),
          idx.map((i) => docScore[i]?.bpb ?? 0),
        ),
      ),
    ]);
  };
  for (const { name, idx, result } of runs) {
    const local = new Map(idx.map((i, k) => [i, k]));
    const keptOf = (i: number) => result.kept[local.get(i) as number] === 1;
    const scoreOf = (i: number) => result.docScores[local.get(i) as number] as number;
    describe(name === 'mixed' ? 'mixed: all' : `${name} alone`, idx, keptOf, scoreOf);
    if (name === 'mixed') {
      for (const source of sourceNames) {
        describe(
          `mixed: ${source}`,
          idx.filter((i) => sourceOf[i] === source),
          keptOf,
          scoreOf,
        );
      }
    }
  }
  out('byte-gpt bits per byte of the kept (top 60% by document score) and dropped documents:');
  out();
  table(
    [
      'run: documents',
      'documents',
      'distinct scores',
      'kept',
      'bits/byte kept',
      'bits/byte dropped',
      'median kept',
      'median dropped',
      'gap (dropped − kept)',
      'gap of a random 60%, 95% range',
      'Spearman(score, bits/byte)',
    ],
    rows,
  );
  out(`Text section: ${seconds(t0)} (${lineScore.size} distinct lines and ${texts.length} documents scored).`);
  out();
}

/** Spearman rank correlation (average ranks for ties). */
function spearman(a: number[], b: number[]): number {
  const ranks = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
      for (let k = i; k <= j; k++) r[(order[k] as readonly [number, number])[1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += ((ra[i] as number) - ma) * ((rb[i] as number) - mb);
    da += ((ra[i] as number) - ma) ** 2;
    db += ((rb[i] as number) - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

// ------------------------------------------------------------------------------------------------- main

const logger = createLogger('validate-selection', 'warn');
const store = new ModelStore(join(repoRoot, 'models'));
const sessions = new SessionCache({ provider: 'cpu', logger, intraOpThreads: 2 });
try {
  dedupSection();
  await scipSection(sessions, store);
  await textSection(sessions, store);
} finally {
  await sessions.close();
}
out(`Total: ${seconds(started)}.`);
