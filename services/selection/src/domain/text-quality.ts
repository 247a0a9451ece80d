import { sampleIndices, seededRandom } from '@sift/numeric';
import { checkInRange, checkInteger, invalidArgument, keepCountOf } from './parameter-checks.js';
import { recordsPerStep, runToEnd, type Steps } from './steps.js';

/**
 * The text-quality score of Sharma et al. 2024 ("Text quality-based pruning for efficient training of
 * language models"): cheap line-level heuristic filters, each weighted by how much keeping only the lines
 * it passes lowers a reference language model's perplexity; a line scores the weighted share of filters it
 * passes, a document the token-weighted mean of its lines, and the top fraction of documents is kept.
 */

/** The built-in line filters, in the order of the proto's `QualityFilter` enum. */
export type QualityFilterName =
  | 'terminal-punctuation'
  | 'min-words'
  | 'not-uppercase'
  | 'few-digits'
  | 'stop-words'
  | 'no-boilerplate'
  | 'no-curly-braces';

export const qualityFilterNames: readonly QualityFilterName[] = [
  'terminal-punctuation',
  'min-words',
  'not-uppercase',
  'few-digits',
  'stop-words',
  'no-boilerplate',
  'no-curly-braces',
];

/** A named pure predicate on one line (already trimmed, never empty). */
export interface LineFilter {
  name: string;
  passes: (line: string) => boolean;
}

/** The language model's perplexity over a set of lines; injected (the service passes its default LM). */
export type Perplexity = (lines: string[]) => Promise<number>;

export const defaultMinWords = 3;
export const defaultMaxDigitShare = 0.25;
export const defaultMinStopWords = 1;
/**
 * Documents sampled to estimate the filter weights. Each filter's kept lines are scored by the language
 * model on CPU: a few hundred documents give stable weights in seconds (the selection job's default).
 */
export const defaultWeightSampleSize = 300;

/**
 * A small list of very frequent English function words; a line of prose almost always has one, a menu
 * entry, a table row or a line of code usually none.
 */
export const englishStopWords: ReadonlySet<string> = new Set(
  (
    'a about after all also an and any are as at be been but by can could did do does for from had has have he ' +
    'her his how i if in into is it its just may me more most my no not now of on one only or other our out she ' +
    'should so some than that the their them then there these they this to up us was we were what when which ' +
    'who will with would you your'
  ).split(' '),
);

/**
 * Phrases that mark web boilerplate (cookie banners, legal footers, navigation, script warnings, filler),
 * matched case-insensitively at a word start, so `cookie` also matches `Cookies`.
 */
export const boilerplatePhrases: readonly string[] = [
  'cookie',
  'javascript',
  'terms of use',
  'terms of service',
  'terms and conditions',
  'privacy policy',
  'all rights reserved',
  'lorem ipsum',
  'click here',
  'skip to content',
  'skip to main content',
  'sign up for our newsletter',
  'subscribe to our newsletter',
  'log in to comment',
  'back to top',
  'powered by',
];

const boilerplatePattern = new RegExp(
  `\\b(?:${boilerplatePhrases.map((p) => p.replace(/ /g, '\\s+')).join('|')})`,
  'i',
);

/** Words of a line: runs of non-whitespace. This is also the token count that weights lines in a document. */
export function lineWords(line: string): string[] {
  const trimmed = line.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

/** The lines of a document the score looks at: split at newlines, trimmed, blank lines left out. */
export function qualityLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Ends with `.`, `!`, `?`, `"` or `”` (trailing whitespace ignored). */
export function endsWithTerminalPunctuation(line: string): boolean {
  return /[.!?"”]$/.test(line.trimEnd());
}

/** Has at least `minWords` whitespace-separated words. */
export function hasMinWords(line: string, minWords = defaultMinWords): boolean {
  return lineWords(line).length >= minWords;
}

/** Not all upper-case: passes when some letter is lower-case, or when the line has no cased letter. */
export function isNotUppercase(line: string): boolean {
  return line.toUpperCase() !== line || line.toLowerCase() === line;
}

/** Decimal digits are at most `maxShare` of the line's non-whitespace characters (code points). */
export function hasFewDigits(line: string, maxShare = defaultMaxDigitShare): boolean {
  const chars = Array.from(line.replace(/\s+/g, ''));
  if (chars.length === 0) return true;
  const digits = chars.filter((c) => c >= '0' && c <= '9').length;
  return digits <= maxShare * chars.length;
}

/**
 * At least `minCount` words (lower-cased, stripped of surrounding punctuation) are in
 * {@link englishStopWords}.
 */
export function hasStopWords(line: string, minCount = defaultMinStopWords): boolean {
  let count = 0;
  for (const word of lineWords(line)) {
    if (englishStopWords.has(word.toLowerCase().replace(/^[^\p{L}]+|[^\p{L}]+$/gu, ''))) count++;
    if (count >= minCount) return true;
  }
  return false;
}

/** Contains none of {@link boilerplatePhrases}. */
export function isNotBoilerplate(line: string): boolean {
  return !boilerplatePattern.test(line);
}

/** Contains no `{` or `}` (template, markup or code leaking into prose). */
export function hasNoCurlyBraces(line: string): boolean {
  return !/[{}]/.test(line);
}

export interface QualityFilterOptions {
  /** `min-words`: default 3. */
  minWords?: number;
  /** `few-digits`: largest digit share that passes, in (0, 1]; default 0.25. */
  maxDigitShare?: number;
  /** `stop-words`: default 1. */
  minStopWords?: number;
}

/** The built-in filters by name, with their thresholds; all of them by default. */
export function qualityFilters(
  names: readonly QualityFilterName[] = qualityFilterNames,
  options: QualityFilterOptions = {},
): LineFilter[] {
  const minWords = checkInteger(options.minWords ?? defaultMinWords, 'minWords', 1);
  const maxDigitShare = checkInRange(options.maxDigitShare ?? defaultMaxDigitShare, 'maxDigitShare', 0, 1, true);
  const minStopWords = checkInteger(options.minStopWords ?? defaultMinStopWords, 'minStopWords', 1);
  const predicates: Record<QualityFilterName, (line: string) => boolean> = {
    'terminal-punctuation': endsWithTerminalPunctuation,
    'min-words': (line) => hasMinWords(line, minWords),
    'not-uppercase': isNotUppercase,
    'few-digits': (line) => hasFewDigits(line, maxDigitShare),
    'stop-words': (line) => hasStopWords(line, minStopWords),
    'no-boilerplate': isNotBoilerplate,
    'no-curly-braces': hasNoCurlyBraces,
  };
  return names.map((name, i) => {
    const passes = predicates[name];
    if (passes === undefined) {
      throw invalidArgument(`filters[${i}]`, `must be one of ${qualityFilterNames.join(', ')}, got '${name}'`);
    }
    return { name, passes };
  });
}

export interface FilterWeights {
  /** Filter names, parallel to the arrays below. */
  filters: string[];
  /** w_i = max(0, (PPL_all − PPL_i) / PPL_all); 0 for a filter that keeps no line. */
  weights: Float64Array;
  /** Perplexity of all sample lines. */
  pplAll: number;
  /** PPL_i, the perplexity of the sample lines filter i passes; NaN when it passes none. */
  pplPerFilter: Float64Array;
  /** Sample lines each filter passes. */
  linesKept: Int32Array;
  /** Σ w_i = 0: no filter lowers perplexity, so lines will be scored with equal weights. */
  fallbackToEqualWeights: boolean;
}

/**
 * Filter weights of Sharma et al. 2024: PPL_all over all sample lines, PPL_i over the lines filter i
 * passes, w_i = max(0, (PPL_all − PPL_i) / PPL_all). A filter that passes every line has PPL_i = PPL_all
 * and w_i = 0 without asking the model again; one that passes none gets w_i = 0 and PPL_i = NaN. The
 * model is called once for all lines and once per remaining filter, one call at a time.
 *
 * Throws `invalid_argument` for an empty sample or filter list, and naming `perplexity` when it returns
 * anything but a finite number > 0.
 */
export async function computeFilterWeights(
  sampleLines: readonly string[],
  filters: readonly LineFilter[],
  perplexity: Perplexity,
): Promise<FilterWeights> {
  if (sampleLines.length === 0) throw invalidArgument('sampleLines', 'must not be empty');
  checkFilters(filters);
  const measure = async (lines: string[], what: string) => {
    const value = await perplexity(lines);
    if (!Number.isFinite(value) || value <= 0) {
      throw invalidArgument('perplexity', `must return a finite number > 0, got ${value} for ${what}`);
    }
    return value;
  };
  const all = [...sampleLines];
  const pplAll = await measure(all, 'all sample lines');
  const m = filters.length;
  const weights = new Float64Array(m);
  const pplPerFilter = new Float64Array(m);
  const linesKept = new Int32Array(m);
  for (let f = 0; f < m; f++) {
    const filter = filters[f] as LineFilter;
    const passed = all.filter((line) => filter.passes(line));
    linesKept[f] = passed.length;
    if (passed.length === 0) {
      pplPerFilter[f] = Number.NaN;
      continue;
    }
    const ppl =
      passed.length === all.length ? pplAll : await measure(passed, `the lines filter '${filter.name}' keeps`);
    pplPerFilter[f] = ppl;
    weights[f] = Math.max(0, (pplAll - ppl) / pplAll);
  }
  return {
    filters: filters.map((f) => f.name),
    weights,
    pplAll,
    pplPerFilter,
    linesKept,
    fallbackToEqualWeights: weights.every((w) => w === 0),
  };
}

export interface DocumentScores {
  /** Token-weighted mean line score per document, in [0, 1]; 0 for a document without words. */
  docScores: Float64Array;
  /** Documents kept, round(keepFraction · n). */
  keepCount: number;
  /** 1 when the document is kept. */
  kept: Uint8Array;
  /** The weights summed to 0 and every filter counted equally. */
  fallbackToEqualWeights: boolean;
}

/**
 * Scores documents with the filter weights: line score s_l = Σ w_i · pass_i(l) / Σ w_i, document score
 * Σ_l t_l · s_l / Σ_l t_l with t_l the line's whitespace words ({@link lineWords}); lines come from
 * {@link qualityLines}. When Σ w_i = 0 every filter gets weight 1 (and the result says so). The
 * round(keepFraction · n) highest-scoring documents are kept; equal scores keep the lower index.
 */
export function scoreDocuments(
  texts: readonly string[],
  weights: ArrayLike<number>,
  filters: readonly LineFilter[],
  keepFraction: number,
): DocumentScores {
  return runToEnd(scoreDocumentsSteps(texts, weights, filters, keepFraction));
}

/** {@link scoreDocuments} as {@link Steps}: yields its progress every {@link recordsPerStep} documents. */
export function* scoreDocumentsSteps(
  texts: readonly string[],
  weights: ArrayLike<number>,
  filters: readonly LineFilter[],
  keepFraction: number,
): Steps<DocumentScores> {
  checkFilters(filters);
  if (weights.length !== filters.length) {
    throw invalidArgument('weights', `has ${weights.length} entries for ${filters.length} filters`);
  }
  let weightSum = 0;
  for (let f = 0; f < weights.length; f++) {
    const w = weights[f] as number;
    if (!Number.isFinite(w) || w < 0) throw invalidArgument(`weights[${f}]`, `must be a finite number >= 0, got ${w}`);
    weightSum += w;
  }
  const n = texts.length;
  const keepCount = keepCountOf(n, keepFraction, undefined);
  const fallbackToEqualWeights = weightSum === 0;
  const effective = Array.from(weights, (w) => (fallbackToEqualWeights ? 1 : w));
  const effectiveSum = fallbackToEqualWeights ? filters.length : weightSum;

  const docScores = new Float64Array(n);
  for (let d = 0; d < n; d++) {
    if (d % recordsPerStep === 0 && d > 0) yield { done: d, total: n };
    let tokens = 0;
    let weighted = 0;
    for (const line of qualityLines(texts[d] as string)) {
      let passed = 0;
      for (let f = 0; f < filters.length; f++) {
        if ((filters[f] as LineFilter).passes(line)) passed += effective[f] as number;
      }
      const t = lineWords(line).length;
      tokens += t;
      weighted += (t * passed) / effectiveSum;
    }
    docScores[d] = tokens === 0 ? 0 : weighted / tokens;
  }

  const order = Int32Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (docScores[b] as number) - (docScores[a] as number) || a - b,
  );
  const kept = new Uint8Array(n);
  for (let r = 0; r < keepCount; r++) kept[order[r] as number] = 1;
  return { docScores, keepCount, kept, fallbackToEqualWeights };
}

export interface TextQualityOptions {
  /** Fraction of the documents to keep, in (0, 1] (about 0.6 for web text, 0.8 for Wikipedia). */
  keepFraction: number;
  perplexity: Perplexity;
  /** Default: every built-in filter with default thresholds. */
  filters?: readonly LineFilter[];
  /** Documents sampled to estimate the weights; default {@link defaultWeightSampleSize} (all when there are fewer). */
  weightSampleSize?: number;
  /** Seed of that sample; default 0. */
  seed?: number;
  /** Runs the per-document scoring pass; default: in one go ({@link runToEnd}). A job passes one that pauses. */
  runSteps?: <R>(steps: Steps<R>) => Promise<R>;
}

export interface TextQualityResult extends FilterWeights, DocumentScores {
  /** Documents whose lines estimated the weights, ascending. */
  sampleDocuments: Int32Array;
}

/**
 * The whole method: sample documents (seeded), estimate the weights on their lines with
 * {@link computeFilterWeights}, score every document with {@link scoreDocuments}. Throws `invalid_argument`
 * naming `texts` when the sample has no non-blank line.
 */
export async function textQuality(texts: readonly string[], options: TextQualityOptions): Promise<TextQualityResult> {
  const filters = options.filters ?? qualityFilters();
  keepCountOf(texts.length, options.keepFraction, undefined);
  const sampleSize = checkInteger(options.weightSampleSize ?? defaultWeightSampleSize, 'weightSampleSize', 1);
  const seed = checkInteger(options.seed ?? 0, 'seed', 0);
  const sampleDocuments =
    sampleSize >= texts.length
      ? Int32Array.from({ length: texts.length }, (_, i) => i)
      : sampleIndices(texts.length, sampleSize, seededRandom(seed)).sort();
  const sampleLines = Array.from(sampleDocuments).flatMap((d) => qualityLines(texts[d] as string));
  if (sampleLines.length === 0) throw invalidArgument('texts', 'have no non-blank line in the weight sample');
  const weights = await computeFilterWeights(sampleLines, filters, options.perplexity);
  const run = options.runSteps ?? (async <R>(steps: Steps<R>) => runToEnd(steps));
  const scores = await run(scoreDocumentsSteps(texts, weights.weights, filters, options.keepFraction));
  return { ...weights, ...scores, sampleDocuments };
}

function checkFilters(filters: readonly LineFilter[]): void {
  if (filters.length === 0) throw invalidArgument('filters', 'must not be empty');
  const seen = new Set<string>();
  for (const [i, f] of filters.entries()) {
    if (seen.has(f.name)) throw invalidArgument(`filters[${i}]`, `repeats '${f.name}'`);
    seen.add(f.name);
  }
}
