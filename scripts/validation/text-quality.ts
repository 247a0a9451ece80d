/**
 * Section 3: text quality. Held-out English documents of byte-gpt's own sources: filter weights from the
 * language model's perplexity per byte (byte-gpt, or bpe-gpt), document scores, top 60% kept, its bits per
 * byte of kept vs dropped, on the mixed corpus and on each source alone.
 */
import {
  contextLengthOf,
  type ModelStore,
  type SessionCache,
  scoreText,
  type TextCodec,
  textCodecOf,
} from '@sift/inference';
import { sampleIndices, seededRandom, spearman } from '@sift/numeric';
import { evenlySpaced } from '../../models/builders/corpus-files.js';
import {
  qualityFilters,
  qualityLines,
  type TextQualityResult,
  textQuality,
} from '../../services/selection/src/domain/index.js';
import { f3, out, pct, seconds, table } from './report.js';
import { fortuneDocuments, manDocuments, wordnetDocuments } from './text-documents.js';

export interface TextOptions {
  /** Documents taken per source, evenly spaced. */
  docsPerSource: number;
  seed: number;
  /** The language model whose perplexity weighs the filters (byte-gpt, or bpe-gpt through its tokenizer). */
  lm: string;
}

type LmSession = Parameters<typeof scoreText>[0];

const sourceNames = ['fortunes', 'wordnet', 'man'];

export async function textSection(sessions: SessionCache, store: ModelStore, options: TextOptions): Promise<void> {
  const { docsPerSource, seed } = options;
  const t0 = performance.now();
  const model = await store.resolve(options.lm, '1');
  const graph = await sessions.get(model);
  const lm = { session: graph.session, codec: await textCodecOf(model), contextLength: contextLengthOf(model) };
  const { texts, sourceOf, lineTotal } = pickDocuments(docsPerSource, seed, model.name);
  const lineScorer = lineScorerOf(lm);
  const docScore = await scoreDocuments(lm, texts);

  const filters = qualityFilters();
  const runs: QualityRun[] = [];
  for (const name of ['mixed', ...sourceNames]) {
    const idx = texts.flatMap((_, i) => (name === 'mixed' || sourceOf[i] === name ? [i] : []));
    if (idx.length === 0) continue;
    const result = await textQuality(
      idx.map((i) => texts[i] as string),
      { keepFraction: 0.6, perplexity: lineScorer.perplexity, filters, weightSampleSize: idx.length, seed },
    );
    runs.push({ name, idx, result });
  }
  const mixed = runs[0]?.result;
  if (mixed === undefined) return;
  printFilterWeights(runs, mixed, lineTotal, model.name);
  printKeptAndDropped(runs, docScore, sourceOf, seed, model.name);
  out(
    `Text section: ${seconds(t0)} (${lineScorer.distinctLines()} distinct lines and ${texts.length} documents scored).`,
  );
  out();
}

/** Up to `docsPerSource` evenly spaced documents of each source, shuffled; prints what was taken. */
function pickDocuments(
  docsPerSource: number,
  seed: number,
  lmName: string,
): { texts: string[]; sourceOf: string[]; lineTotal: number } {
  const sources = [fortuneDocuments(), wordnetDocuments(), manDocuments()];
  const picked = sources.flatMap((docs, s) =>
    evenlySpaced(docs, docsPerSource).map((text) => ({ text, source: sourceNames[s] as string })),
  );
  // Shuffled, because scoreDocuments breaks equal scores by position: in source order a tie would
  // always favour the first source.
  const order = sampleIndices(picked.length, picked.length, seededRandom(seed + 2));
  const texts = Array.from(order, (i) => (picked[i] as (typeof picked)[number]).text);
  const sourceOf = Array.from(order, (i) => (picked[i] as (typeof picked)[number]).source);
  out(`## 3. Text-quality filter weights from ${lmName} perplexity`);
  out();
  const lineTotal = texts.reduce((s, t) => s + qualityLines(t).length, 0);
  out(
    `Documents held out from the training of byte-gpt and bpe-gpt by the recipe's hash (available: ` +
      `${sources.map((d, s) => `${sourceNames[s]} ${d.length}`).join(', ')}), up to ${docsPerSource} evenly spaced ` +
      `per source: ${texts.length} documents, ${lineTotal} non-blank lines, ` +
      `${texts.reduce((s, t) => s + Buffer.byteLength(t), 0)} bytes, shuffled. Fortunes: consecutive fortunes ` +
      'joined to ≥ 5 lines; WordNet: 8 "lemmas: gloss" lines; man pages: roff stripped, 10-line chunks (start ' +
      'and middle of the page). Every document is in the weight sample; keep fraction 0.6; the mixed corpus ' +
      'and each source alone.',
  );
  out();
  return { texts, sourceOf, lineTotal };
}

/** A language model as this section drives it. */
interface ScoringModel {
  session: LmSession;
  codec: TextCodec;
  contextLength: number;
}

/**
 * The perplexity function textQuality needs, per byte. Lines are scored one by one and cached: a set's
 * perplexity is then exact (scoreText scores each line as its own windows anyway) without running the
 * model again for each filter and each run.
 */
function lineScorerOf(lm: ScoringModel) {
  const lineScore = new Map<string, { nll: number; bytes: number }>();
  const perplexity = async (lines: string[]) => {
    let nll = 0;
    let bytes = 0;
    for (const line of lines) {
      let s = lineScore.get(line);
      if (s === undefined) {
        s = { nll: 0, bytes: 0 };
        if (lm.codec.encode(line).ids.length >= 2) {
          const r = await scoreText(lm.session, [line], { contextLength: lm.contextLength, codec: lm.codec });
          s = { nll: r.bitsPerByte * r.bytesScored, bytes: r.bytesScored };
        }
        lineScore.set(line, s);
      }
      nll += s.nll;
      bytes += s.bytes;
    }
    return 2 ** (nll / bytes);
  };
  return { perplexity, distinctLines: () => lineScore.size };
}

interface DocumentScore {
  nll: number;
  bytes: number;
  bpb: number;
}

/** Whole documents, each scored in windows of the model's context (context across its lines). */
async function scoreDocuments(lm: ScoringModel, texts: string[]): Promise<DocumentScore[]> {
  const docScore: DocumentScore[] = [];
  for (const t of texts) {
    const r = await scoreText(lm.session, [t], { contextLength: lm.contextLength, codec: lm.codec });
    docScore.push({ nll: r.bitsPerByte * r.bytesScored, bytes: r.bytesScored, bpb: r.bitsPerByte });
  }
  return docScore;
}

interface QualityRun {
  /** 'mixed' or a source name. */
  name: string;
  /** Documents of the run (indices into all documents). */
  idx: number[];
  result: TextQualityResult;
}

function printFilterWeights(runs: QualityRun[], mixed: TextQualityResult, lineTotal: number, lmName: string): void {
  out(
    `Filter weights w_i = max(0, (PPL_all − PPL_i) / PPL_all), line perplexity per byte from ${lmName} (each line scored ` +
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
}

/** The model's bits per byte of the kept and dropped documents of each run, and of each source in the mixed run. */
function printKeptAndDropped(
  runs: QualityRun[],
  docScore: DocumentScore[],
  sourceOf: string[],
  seed: number,
  lmName: string,
): void {
  const pooled = (idx: number[]) => {
    const nll = idx.reduce((s, i) => s + (docScore[i]?.nll ?? 0), 0);
    const bytes = idx.reduce((s, i) => s + (docScore[i]?.bytes ?? 0), 0);
    return bytes === 0 ? Number.NaN : nll / bytes;
  };
  const median = (idx: number[]) => {
    const v = idx.map((i) => docScore[i]?.bpb ?? 0).sort((a, b) => a - b);
    return v.length === 0 ? Number.NaN : (v[Math.floor(v.length / 2)] as number);
  };
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
  out(`${lmName} bits per byte of the kept (top 60% by document score) and dropped documents:`);
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
}
