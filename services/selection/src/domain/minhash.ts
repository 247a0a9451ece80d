import { checkIds, type DuplicateKeep, duplicateKeeps, indexedDuplicate, prefers } from './exact-dedup.js';
import { BandTables, bandKeysOf, chooseBandsRows, find, union } from './lsh-banding.js';
import {
  type MinHashOptions,
  resolveShingling,
  ShingleScratch,
  type ShingleUnit,
  sortedJaccard,
  sortUnique,
} from './minhash-shingles.js';
import { defaultNumPermutations, MinHasher, signatureAgreement } from './minhash-signatures.js';
import { checkInRange, checkInteger, checkOneOf, invalidArgument } from './parameter-checks.js';
import { recordsPerStep, runToEnd, type Steps } from './steps.js';
import {
  describeTextNormalization,
  normalizeText,
  sameTextNormalization,
  type TextNormalization,
} from './text-normalization.js';

export { chooseBandsRows, sCurve } from './lsh-banding.js';
export {
  defaultNgramSize,
  jaccardSimilarity,
  type MinHashOptions,
  type ShingleUnit,
  shingleSet,
  shingleUnits,
} from './minhash-shingles.js';
export {
  defaultNumPermutations,
  MinHasher,
  minHashPrime,
  minHashSignatures,
  signatureAgreement,
} from './minhash-signatures.js';

/**
 * MinHash near-duplicate detection with locality-sensitive hashing (Broder 1997, "On the resemblance and
 * containment of documents"; banding as in Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets",
 * §3.4). A document is the set of hashes of its shingles; two documents are duplicates when the Jaccard
 * similarity of their sets is at least the threshold.
 *
 * The method is split into four modules, read in this order:
 * - `minhash-shingles.ts`: text to shingle hashes (FNV-1a words, murmur3-mixed shingles) and exact Jaccard;
 * - `minhash-signatures.ts`: the P exact permutations modulo 2³¹ − 1 and the signatures under them;
 * - `lsh-banding.ts`: bands × rows from the threshold, 64-bit band keys, the bucket tables, union-find;
 * - this module: the streaming dedup pass, candidate verification, survivors and the index of earlier
 *   datasets.
 *
 * Memory: signatures are a preallocated Uint32Array of n·P values (n·P·4 bytes: 512 bytes per document at
 * P = 128, 51 MB per 100k documents); LSH keeps per band an open-addressing table from a 64-bit band key
 * to the newest document in that bucket (bands × 2^⌈log₂ 2n⌉ × 12 bytes, see {@link BandTables}) plus an
 * Int32Array chain of n·bands links to older members, and union-find keeps n int32 parents.
 * Documents are processed one at a time with reused scratch buffers; there is no all-pairs step.
 */

/** Name of the shingle hashes, permutation family and band keys; an index built with another cannot be read. */
export const minHashScheme = 'fnv1a-murmur3-m31ap-v1';
export const defaultJaccardThreshold = 0.8;
/**
 * Most members of one LSH bucket a document is compared with (newest first). It bounds the work a bucket
 * of thousands of copies causes; members already in the document's component are skipped cheaply, so
 * only a bucket holding more than this many distinct near-duplicate groups can miss an edge.
 */
export const maxBucketScan = 256;

export interface MinHashDedupOptions extends MinHashOptions {
  /** Jaccard similarity at or above which two documents are duplicates, in (0, 1); default 0.8. */
  threshold?: number;
  /**
   * LSH bands b (rows r = ⌊P/b⌋); default a loaded index's, else chosen from the threshold by
   * {@link chooseBandsRows} with {@link bandWeights}.
   */
  bands?: number;
  /** Compute each candidate pair's exact Jaccard and drop LSH false positives; default true. */
  verifyCandidates?: boolean;
  /** Survivor of each group of near-duplicates; default `first`. */
  keep?: DuplicateKeep;
  /** One id per text; required for `smallest-id` and for building an index of this dataset. */
  ids?: readonly string[];
  /** Band keys of earlier datasets: a document sharing a band with an indexed record is dropped. */
  index?: MinHashIndex;
}

/** Everything that decides a document's band keys; an index is usable only with equal parameters. */
export interface MinHashParams {
  scheme: string;
  normalization: TextNormalization;
  shingleUnit: ShingleUnit;
  ngramSize: number;
  numPermutations: number;
  bands: number;
  rows: number;
  seed: number;
}

/** Band keys and signature sketches of an earlier dataset's kept documents, with their record ids. */
export interface MinHashIndex {
  params: MinHashParams;
  ids: readonly string[];
  /** 64-bit band keys as (high, low) uint32 pairs: ids.length × bands × 2 values, row-major. */
  bandKeys: Uint32Array;
  /**
   * The low 16 bits of every signature value (b-bit MinHash, Li & König 2010): ids.length × P values,
   * row-major. A band match only says two documents may be similar; the sketch estimates how similar,
   * so an indexed match is held to the threshold like any other candidate (see {@link sketchJaccard}).
   */
  sketches: Uint16Array;
}

/** Bits of each signature value an index keeps. */
export const sketchBits = 16;

/**
 * Jaccard estimated from the low {@link sketchBits} bits of two signatures: equal full values agree, and
 * unequal ones still agree in their low bits with probability 2^-b, so the agreement rate a over P values
 * estimates J as (a − 2^-b) / (1 − 2^-b) (Li & König 2010, "b-Bit Minwise Hashing", Theorem 1, for sets
 * much smaller than the hash range).
 */
export function sketchJaccard(
  signatures: Uint32Array,
  at: number,
  sketches: Uint16Array,
  slot: number,
  p: number,
): number {
  let agree = 0;
  const base = slot * p;
  for (let j = 0; j < p; j++) if (((signatures[at + j] as number) & 0xffff) === sketches[base + j]) agree++;
  const chance = 2 ** -sketchBits;
  return Math.max(0, (agree / p - chance) / (1 - chance));
}

export interface MinHashDedupResult {
  params: MinHashParams;
  threshold: number;
  verifyCandidates: boolean;
  keep: DuplicateKeep;
  /** 1 when the document survives. */
  kept: Uint8Array;
  /** -1 for a kept document, the survivor of its component for a dropped one, -2 when an indexed record claims it. */
  duplicateOf: Int32Array;
  /** Id of the indexed record where duplicateOf is -2; '' elsewhere. */
  indexedDuplicateOf: string[];
  /**
   * Similarity of a dropped document to what it duplicates: exact Jaccard to the survivor when candidates
   * are verified, else the signature agreement rate; for an indexed match, the Jaccard estimated from the
   * index's sketch when verified, else (matching bands / b)^(1/r), the estimate of s from P(band match) =
   * s^r. NaN for kept documents.
   */
  jaccard: Float32Array;
  bands: number;
  rows: number;
  /** Distinct pairs sharing a band whose documents were not already in one component when compared. */
  candidatePairs: number;
  /** Candidate pairs whose exact Jaccard reached the threshold (0 without verification). */
  verifiedPairs: number;
  removed: number;
  /** n × P signature values, row-major. */
  signatures: Uint32Array;
}

/**
 * Exact Jaccard of the current document against others, re-shingling the other text on demand (the texts
 * are in memory anyway; keeping every document's shingle set would cost ~4 bytes per shingle).
 */
class CandidateVerifier {
  private readonly current = new ShingleScratch();
  private readonly other = new ShingleScratch();
  private currentCount = -1;
  private pending: Uint32Array | undefined;
  private pendingCount = 0;

  constructor(
    private readonly texts: readonly string[],
    private readonly params: MinHashParams,
  ) {}

  /**
   * Moves to the next current document; when its shingle hashes are at hand, pass them (they are copied
   * and sorted only if a candidate needs them).
   */
  reset(shingles?: Uint32Array, count = 0): void {
    this.currentCount = -1;
    this.pending = shingles;
    this.pendingCount = count;
  }

  jaccard(d: number, m: number): number {
    if (this.currentCount < 0) this.currentCount = this.loadCurrent(d);
    const otherCount = this.load(this.other, m);
    return sortedJaccard(this.current.shingles, this.currentCount, this.other.shingles, otherCount);
  }

  private loadCurrent(d: number): number {
    if (this.pending === undefined) return this.load(this.current, d);
    if (this.current.shingles.length < this.pendingCount) this.current.shingles = new Uint32Array(this.pendingCount);
    this.current.shingles.set(this.pending.subarray(0, this.pendingCount));
    return sortUnique(this.current.shingles, this.pendingCount);
  }

  private load(scratch: ShingleScratch, i: number): number {
    const { normalization, shingleUnit, ngramSize } = this.params;
    const text = normalizeText(this.texts[i] as string, normalization);
    // fill() may replace scratch.shingles with a larger buffer: read the field only after it ran.
    const count = scratch.fill(text, shingleUnit, ngramSize);
    return sortUnique(scratch.shingles, count);
  }
}

/** Band keys of an index in {@link BandTables}, with a chain from each slot to the older slot of equal key. */
class IndexLookup {
  private readonly tables: BandTables;
  private readonly older: Int32Array;
  private readonly counts: Int32Array;
  private readonly touched: number[] = [];

  constructor(
    index: MinHashIndex,
    private readonly bands: number,
  ) {
    const count = index.ids.length;
    this.tables = new BandTables(bands, count);
    this.older = new Int32Array(count * bands);
    this.counts = new Int32Array(count);
    const keys = index.bandKeys;
    for (let slot = 0; slot < count; slot++) {
      for (let k = 0; k < bands; k++) {
        const at = 2 * (slot * bands + k);
        this.older[slot * bands + k] = this.tables.push(k, keys[at] as number, keys[at + 1] as number, slot);
      }
    }
  }

  /**
   * The indexed slot sharing a band with `keys` whose score is highest (earliest on ties), with that score;
   * slot -1 when none shares a band or none scores at least `minScore`. `score(slot, bandsShared)` judges
   * one candidate.
   */
  match(
    keys: Uint32Array,
    score: (slot: number, bandsShared: number) => number,
    minScore: number,
  ): { slot: number; score: number } {
    const bands = this.bands;
    for (let k = 0; k < bands; k++) {
      let slot = this.tables.get(k, keys[2 * k] as number, keys[2 * k + 1] as number);
      for (let scanned = 0; slot !== -1 && scanned < maxBucketScan; scanned++) {
        if (this.counts[slot] === 0) this.touched.push(slot);
        (this.counts[slot] as number)++;
        slot = this.older[slot * bands + k] as number;
      }
    }
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const slot of this.touched) {
      const s = score(slot, this.counts[slot] as number);
      if (s >= minScore && (s > bestScore || (s === bestScore && slot < best))) {
        best = slot;
        bestScore = s;
      }
      this.counts[slot] = 0;
    }
    this.touched.length = 0;
    return { slot: best, score: bestScore };
  }
}

/**
 * MinHash LSH near-deduplication in one streaming pass. Per document: normalise, shingle, compute the
 * signature into its row, hash each band to a key; documents sharing a key in any band are candidates;
 * candidates (optionally verified by exact Jaccard ≥ threshold) are joined by union-find, so a chain
 * a~b, b~c is one component with one survivor chosen by the keep rule.
 *
 * Incremental mode: a document sharing a band key with a record of `index` is a candidate; with
 * verification (the default) it is dropped only when the Jaccard estimated from the index's signature
 * sketch reaches the threshold (the index holds no shingles for an exact check), and then with the id of
 * the indexed record it matches best (indexed records always win). Without verification any shared band
 * drops it, scored (bands shared / b)^(1/r), the s that P(band match) = s^r. The match is per document and
 * not followed transitively: the survivor of a component is chosen among its members the index did not
 * claim.
 */
export function minHashDedup(texts: readonly string[], options: MinHashDedupOptions = {}): MinHashDedupResult {
  return runToEnd(minHashDedupSteps(texts, options));
}

/** {@link minHashDedup} as {@link Steps}: yields its progress every {@link recordsPerStep} documents. */
export function* minHashDedupSteps(
  texts: readonly string[],
  options: MinHashDedupOptions = {},
): Steps<MinHashDedupResult> {
  const n = texts.length;
  const threshold = checkInRange(options.threshold ?? defaultJaccardThreshold, 'threshold', 0, 1);
  const verifyCandidates = options.verifyCandidates ?? true;
  const params = resolveMinHashParams({ ...options, verifyCandidates }, threshold);
  if (options.bands === undefined && options.index !== undefined) {
    // A loaded index fixes the banding when the step leaves it open, so an index saved under an earlier
    // default still loads (its band keys are only comparable under its own bands and rows).
    params.bands = options.index.params.bands;
    params.rows = options.index.params.rows;
  }
  const { numPermutations: p, bands, rows } = params;
  const keep = checkOneOf(options.keep ?? 'first', 'keep', duplicateKeeps);
  const ids = checkIds(options.ids, n, keep);
  if (options.index !== undefined) checkMinHashIndex(options.index, params);
  const lookup = options.index === undefined ? undefined : new IndexLookup(options.index, bands);

  const signatures = new Uint32Array(n * p);
  const hasher = new MinHasher(p, params.seed, options.kernel);
  const scratch = new ShingleScratch();
  const verifier = verifyCandidates ? new CandidateVerifier(texts, params) : undefined;
  const keys = new Uint32Array(2 * bands);
  const buckets = new BandTables(bands, n);
  const olderInBucket = new Int32Array(n * bands);
  const parent = new Int32Array(n);
  const comparedWith = new Int32Array(n).fill(-1);
  const indexedSlot = new Int32Array(n).fill(-1);
  const jaccard = new Float32Array(n).fill(Number.NaN);
  let candidatePairs = 0;
  let verifiedPairs = 0;

  for (let d = 0; d < n; d++) {
    if (d % recordsPerStep === 0 && d > 0) yield { done: d, total: n };
    parent[d] = d;
    const count = scratch.fill(
      normalizeText(texts[d] as string, params.normalization),
      params.shingleUnit,
      params.ngramSize,
    );
    hasher.signature(scratch.shingles, count, signatures, d * p);
    bandKeysOf(signatures, d * p, bands, rows, keys);
    if (lookup !== undefined && options.index !== undefined) {
      const sketches = options.index.sketches;
      const match = verifyCandidates
        ? lookup.match(keys, (slot) => sketchJaccard(signatures, d * p, sketches, slot, p), threshold)
        : lookup.match(keys, (_slot, shared) => (shared / bands) ** (1 / rows), 0);
      if (match.slot >= 0) {
        indexedSlot[d] = match.slot;
        jaccard[d] = match.score;
      }
    }
    verifier?.reset(scratch.shingles, count);
    for (let k = 0; k < bands; k++) {
      const newest = buckets.push(k, keys[2 * k] as number, keys[2 * k + 1] as number, d);
      olderInBucket[d * bands + k] = newest;
      if (newest === -1) continue;
      if (verifier === undefined) {
        // Every member joined the newest one on arrival, so one union links d to the whole bucket.
        if (union(parent, d, newest)) candidatePairs++;
        continue;
      }
      let m = newest;
      for (let scanned = 0; m !== -1 && scanned < maxBucketScan; scanned++) {
        if (comparedWith[m] !== d) {
          comparedWith[m] = d;
          if (find(parent, m) !== find(parent, d)) {
            candidatePairs++;
            if (verifier.jaccard(d, m) >= threshold) {
              union(parent, d, m);
              verifiedPairs++;
            }
          }
        }
        m = olderInBucket[m * bands + k] as number;
      }
    }
  }

  const { kept, duplicateOf, indexedDuplicateOf, removed } = chooseSurvivors(
    parent,
    indexedSlot,
    keep,
    ids,
    options.index,
  );
  fillDuplicateSimilarity(jaccard, duplicateOf, signatures, p, verifyCandidates ? texts : undefined, params);
  return {
    params,
    threshold,
    verifyCandidates,
    keep,
    kept,
    duplicateOf,
    indexedDuplicateOf,
    jaccard,
    bands,
    rows,
    candidatePairs,
    verifiedPairs,
    removed,
    signatures,
  };
}

function chooseSurvivors(
  parent: Int32Array,
  indexedSlot: Int32Array,
  keep: DuplicateKeep,
  ids: readonly string[] | undefined,
  index: MinHashIndex | undefined,
) {
  const n = parent.length;
  const survivor = new Int32Array(n).fill(-1); // per component root
  for (let i = 0; i < n; i++) {
    if (indexedSlot[i] !== -1) continue;
    const root = find(parent, i);
    const current = survivor[root] as number;
    if (current === -1 || prefers(keep, i, current, ids)) survivor[root] = i;
  }
  const kept = new Uint8Array(n);
  const duplicateOf = new Int32Array(n);
  const indexedDuplicateOf = new Array<string>(n).fill('');
  let removed = 0;
  for (let i = 0; i < n; i++) {
    const slot = indexedSlot[i] as number;
    if (slot !== -1) {
      duplicateOf[i] = indexedDuplicate;
      indexedDuplicateOf[i] = index?.ids[slot] as string;
      removed++;
      continue;
    }
    const s = survivor[find(parent, i)] as number;
    if (s === i) {
      kept[i] = 1;
      duplicateOf[i] = -1;
    } else {
      duplicateOf[i] = s;
      removed++;
    }
  }
  return { kept, duplicateOf, indexedDuplicateOf, removed };
}

/**
 * Similarity of each in-dataset duplicate to its survivor: exact Jaccard when `texts` are given (grouped by
 * survivor so each survivor is shingled once), else signature agreement.
 */
function fillDuplicateSimilarity(
  jaccard: Float32Array,
  duplicateOf: Int32Array,
  signatures: Uint32Array,
  p: number,
  texts: readonly string[] | undefined,
  params: MinHashParams,
): void {
  const duplicates: number[] = [];
  for (let i = 0; i < duplicateOf.length; i++) if ((duplicateOf[i] as number) >= 0) duplicates.push(i);
  if (texts === undefined) {
    for (const i of duplicates) jaccard[i] = signatureAgreement(signatures, p, i, duplicateOf[i] as number);
    return;
  }
  duplicates.sort((x, y) => (duplicateOf[x] as number) - (duplicateOf[y] as number) || x - y);
  const verifier = new CandidateVerifier(texts, params);
  let survivor = -1;
  for (const i of duplicates) {
    const s = duplicateOf[i] as number;
    if (s !== survivor) {
      verifier.reset();
      survivor = s;
    }
    jaccard[i] = verifier.jaccard(s, i);
  }
}

/** The band keys of `result`'s kept documents with their ids: the index to save for later jobs. */
export function minHashIndexOf(result: MinHashDedupResult, ids: readonly string[]): MinHashIndex {
  checkIds(ids, result.kept.length, 'first');
  const { numPermutations: p, bands, rows } = result.params;
  const keptIds: string[] = [];
  for (let i = 0; i < result.kept.length; i++) if (result.kept[i] === 1) keptIds.push(ids[i] as string);
  const bandKeys = new Uint32Array(keptIds.length * bands * 2);
  const sketches = new Uint16Array(keptIds.length * p);
  let slot = 0;
  for (let i = 0; i < result.kept.length; i++) {
    if (result.kept[i] !== 1) continue;
    bandKeysOf(result.signatures, i * p, bands, rows, bandKeys.subarray(slot * bands * 2, (slot + 1) * bands * 2));
    for (let j = 0; j < p; j++) sketches[slot * p + j] = (result.signatures[i * p + j] as number) & 0xffff;
    slot++;
  }
  return { params: result.params, ids: keptIds, bandKeys, sketches };
}

/** Fails unless `index` was built with exactly the step's parameters, naming the first that differs. */
export function checkMinHashIndex(index: MinHashIndex, params: MinHashParams): void {
  if (!sameTextNormalization(index.params.normalization, params.normalization)) {
    throw invalidArgument(
      'index',
      `was built with normalisation (${describeTextNormalization(index.params.normalization)}), the step uses ` +
        `(${describeTextNormalization(params.normalization)})`,
    );
  }
  for (const field of ['scheme', 'shingleUnit', 'ngramSize', 'numPermutations', 'bands', 'rows', 'seed'] as const) {
    if (index.params[field] !== params[field]) {
      throw invalidArgument('index', `was built with ${field} ${index.params[field]}, the step uses ${params[field]}`);
    }
  }
  if (index.bandKeys.length !== index.ids.length * params.bands * 2) {
    throw invalidArgument(
      'index',
      `has ${index.bandKeys.length} band key halves for ${index.ids.length} ids × ${params.bands} bands × 2`,
    );
  }
  if (index.sketches.length !== index.ids.length * params.numPermutations) {
    throw invalidArgument(
      'index',
      `has ${index.sketches.length} sketch values for ${index.ids.length} ids × ${params.numPermutations} permutations`,
    );
  }
}

/**
 * Weights of false positives and false negatives when the bands are derived from the threshold. With
 * verification (the default) a false positive costs one exact Jaccard of a candidate pair and is then
 * discarded, while a false negative is a duplicate missed for good, so misses weigh 9 times more: at
 * t = 0.8 and 128 permutations that picks 14 × 9, which finds 87% of pairs at J = 0.8 instead of 40%
 * (9 × 13). Unverified, every candidate is taken as a duplicate and both errors weigh the same.
 */
export const bandWeights = {
  verified: { falsePositive: 0.1, falseNegative: 0.9 },
  unverified: { falsePositive: 0.5, falseNegative: 0.5 },
} as const;

/** The step's parameters with defaults applied and bands × rows resolved from the threshold when not given. */
export function resolveMinHashParams(
  options: MinHashOptions & { bands?: number; verifyCandidates?: boolean },
  threshold: number,
): MinHashParams {
  const numPermutations = checkInteger(options.numPermutations ?? defaultNumPermutations, 'numPermutations', 1, 4096);
  const seed = checkInteger(options.seed ?? 0, 'seed', 0);
  let bands: number;
  let rows: number;
  if (options.bands === undefined) {
    const weights = (options.verifyCandidates ?? true) ? bandWeights.verified : bandWeights.unverified;
    ({ bands, rows } = chooseBandsRows(numPermutations, threshold, weights));
  } else {
    bands = checkInteger(options.bands, 'bands', 1, numPermutations);
    rows = Math.floor(numPermutations / bands);
  }
  return { scheme: minHashScheme, ...resolveShingling(options), numPermutations, bands, rows, seed };
}
