import { checkIds, type DuplicateKeep, duplicateKeeps, indexedDuplicate, prefers } from './exact-dedup.js';
import { BandTables, bandKeysOf, find, maxBucketScan, union } from './lsh-banding.js';
import { checkMinHashIndex, IndexLookup, type MinHashIndex, sketchJaccard } from './minhash-index.js';
import { type MinHashParams, resolveMinHashParams } from './minhash-params.js';
import { type MinHashOptions, ShingleScratch } from './minhash-shingles.js';
import { MinHasher } from './minhash-signatures.js';
import { CandidateVerifier, fillDuplicateSimilarity } from './minhash-verification.js';
import { checkInRange, checkOneOf } from './parameter-checks.js';
import { recordsPerStep, runToEnd, type Steps } from './steps.js';
import { normalizeText } from './text-normalization.js';

export { chooseBandsRows, maxBucketScan, sCurve } from './lsh-banding.js';
export { checkMinHashIndex, type MinHashIndex, sketchBits, sketchJaccard } from './minhash-index.js';
export { bandWeights, type MinHashParams, minHashScheme, resolveMinHashParams } from './minhash-params.js';
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
 * The method is split into these modules, read in this order:
 * - `minhash-shingles.ts`: text to shingle hashes (FNV-1a words, murmur3-mixed shingles) and exact Jaccard;
 * - `minhash-signatures.ts`: the P exact permutations modulo 2³¹ − 1 and the signatures under them;
 * - `lsh-banding.ts`: bands × rows from the threshold, 64-bit band keys, the bucket tables, union-find;
 * - `minhash-params.ts`: the parameters that decide band keys, resolved from a step's options;
 * - `minhash-verification.ts`: exact Jaccard of candidate pairs and of duplicates to their survivors;
 * - `minhash-index.ts`: the index of earlier datasets, its checks and lookups;
 * - this module: the streaming dedup pass, the choice of survivors, and the index of a result.
 *
 * Memory: signatures are a preallocated Uint32Array of n·P values (n·P·4 bytes: 512 bytes per document at
 * P = 128, 51 MB per 100k documents); LSH keeps per band an open-addressing table from a 64-bit band key
 * to the newest document in that bucket (bands × 2^⌈log₂ 2n⌉ × 12 bytes, see {@link BandTables}) plus an
 * Int32Array chain of n·bands links to older members, and union-find keeps n int32 parents.
 * Documents are processed one at a time with reused scratch buffers; there is no all-pairs step.
 */

export const defaultJaccardThreshold = 0.8;

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
