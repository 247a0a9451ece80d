/**
 * Section 1: exact dedup and MinHash LSH on installed code with planted copies. Recall on the planted copies,
 * and every drop classified as a planted pair found, a duplicate already present among the installed files,
 * or other.
 */
import { seededRandom } from '@sift/numeric';
import { evenlySpaced } from '../../models/builders/corpus-files.js';
import {
  exactDedup,
  jaccardSimilarity,
  minHashDedup,
  noTextNormalization,
  shingleSet,
  type TextNormalization,
} from '../../services/selection/src/domain/index.js';
import type { CodeCorpus } from './code-corpus.js';
import { exactVariants, nearEdits, type PlantedCorpus, plantCopies } from './planted-copies.js';
import { f3, out, pct, seconds, table } from './report.js';

export interface DedupOptions {
  /** Exact copies to plant. */
  exactCount: number;
  /** Near-copies to plant. */
  nearCount: number;
  seed: number;
}

export function dedupSection(codeCorpus: () => CodeCorpus, options: DedupOptions): void {
  const t0 = performance.now();
  const { files, language, listed, roots } = codeCorpus();
  const random = seededRandom(options.seed);
  const bytes = files.reduce((s, f) => s + Buffer.byteLength(f.text), 0);
  out('## 1. Exact and MinHash dedup on installed code');
  out();
  out(
    `Corpus: ${files.length} ${language} files (evenly spaced over ${listed} sorted files ≤ 200 KB under ` +
      `${roots.join(', ')}, tests folders skipped), ${(bytes / 1e6).toFixed(1)} MB.`,
  );
  const { corpus, exactOriginals, nearOriginals, editsUsed } = plantCopies(files, options, random);
  const plantedOf = (role: string) => plantedCount(corpus, role);
  out(
    `Planted: ${exactOriginals.length} exact copies (${plantedOf('exact:verbatim')} verbatim, ` +
      `${plantedOf('exact:whitespace')} whitespace-only: CRLF line ends and trailing blanks on ~30% of lines, ` +
      `${plantedOf('exact:case')} case-only: ~5% of lines upper-cased) and ${nearOriginals.length} near-copies of ` +
      `files with ≥ 20 non-blank lines, 3 edits each drawn from ${nearEdits.join(', ')} ` +
      `(used: ${[...editsUsed].map(([e, c]) => `${e} ${c}`).join(', ')}); ${corpus.texts.length} records, shuffled.`,
  );
  out();
  exactDedupTables(corpus);
  minHashTables(corpus, options.seed);
  out(`Dedup section: ${seconds(t0)}.`);
  out();
}

// -------------------------------------------------------------------------------- classifying the drops

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
function breakdown(corpus: PlantedCorpus, kept: Uint8Array, duplicateOf: Int32Array): DropBreakdown {
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

/** Planted records of a role ('exact:verbatim', 'near', ...). */
const plantedCount = (corpus: PlantedCorpus, role: string) => corpus.role.filter((r) => r === role).length;

/** The drops, planted pairs, already duplicated on disk and other columns. */
const describeDrops = (b: DropBreakdown) => [
  b.drops,
  [...b.found.values()].reduce((s, c) => s + c, 0),
  b.preExisting,
  b.other,
];

/** "found/planted" for the copies of one role. */
const recall = (corpus: PlantedCorpus, b: DropBreakdown, role: string) => {
  const total = plantedCount(corpus, role);
  return total === 0 ? 'n/a' : `${b.found.get(role) ?? 0}/${total}`;
};

// ------------------------------------------------------------------------------------- the two methods

/** Exact dedup: no normalisation, then lower-case + collapsed whitespace. */
function exactDedupTables(corpus: PlantedCorpus): void {
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
      recall(corpus, b, 'exact:verbatim'),
      recall(corpus, b, 'exact:whitespace'),
      recall(corpus, b, 'exact:case'),
      recall(corpus, b, 'near'),
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
}

/** MinHash LSH at thresholds 0.8 and 0.7, and its recall on the near-copies by their true Jaccard. */
function minHashTables(corpus: PlantedCorpus, seed: number): void {
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
      recall(corpus, b, 'near'),
      exactVariants.map((v) => recall(corpus, b, `exact:${v}`)).join(', '),
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
}

/** What the duplicates already present among the installed files are, with a few examples. */
function describePreExisting(corpus: PlantedCorpus, b: DropBreakdown, method: 'exact' | 'minhash'): void {
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
