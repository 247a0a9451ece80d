import { seededRandom } from '@sift/numeric';
import { checkIds, type DuplicateKeep, duplicateKeeps, indexedDuplicate, prefers } from './exact-dedup.js';
import { checkInRange, checkInteger, checkOneOf, invalidArgument } from './parameter-checks.js';
import {
  describeTextNormalization,
  normalizeText,
  noTextNormalization,
  sameTextNormalization,
  type TextNormalization,
} from './text-normalization.js';

/**
 * MinHash near-duplicate detection with locality-sensitive hashing (Broder 1997, "On the resemblance and
 * containment of documents"; banding as in Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets",
 * §3.4). A document is the set of hashes of its shingles; two documents are duplicates when the Jaccard
 * similarity of their sets is at least the threshold.
 *
 * Hash functions, and why (the choice decides both speed and exactness):
 * - Words are hashed with 32-bit FNV-1a over their UTF-16 code units, a shingle (n consecutive words or
 *   code points) with a murmur3-style mix of its n tokens; two distinct shingles collide with probability
 *   about 2⁻³².
 * - Permutation i is h_i(x) = (a_i·x + b_i) mod p over x = shingle hash >>> 1, with the Mersenne prime
 *   p = 2³¹ − 1, a_i ≠ 0. Arithmetic is exact: the two multiplications a shingle needs are split into 16-bit
 *   halves so every product stays below 2⁴⁸ (exact in a double) and reduced with 2³¹ ≡ 1 (mod p). 2⁶¹ − 1
 *   would need 64-bit products, which JavaScript has only as BigInt (too slow) or as 4-way 16-bit splits.
 *   Dropping the low hash bit makes two distinct shingles collide with probability 2⁻³¹, so spurious shared
 *   shingles between two 200-shingle documents have probability about 2·10⁻⁵ and move J by 1/400 when
 *   they occur; signature values are uniform on [0, p), so ties between different minima are as rare.
 * - The coefficients form arithmetic progressions: (a_i, b_i) = (a + i·a′, b + i·b′) mod p with a, b, a′, b′
 *   drawn from the seed. Each h_i is still a member of the universal family, but h_{i+1}(x) = h_i(x) +
 *   (a′x + b′) mod p, so after two exact evaluations per shingle every further permutation costs one
 *   add-and-reduce in int32 (no multiplication, no branch). Over random sets the agreement rate of 128
 *   such permutations has the mean J and the binomial spread √(J(1−J)/128) of independent ones
 *   (checked at J = 0.2, 0.5, 0.8).
 *
 * Memory: signatures are a preallocated Uint32Array of n·P values (n·P·4 bytes: 512 bytes per document at
 * P = 128, 51 MB per 100k documents); LSH keeps per band an open-addressing table from a 64-bit band key
 * to the newest document in that bucket (bands × 2^⌈log₂ 2n⌉ × 12 bytes, see {@link BandTables}) plus an
 * Int32Array chain of n·bands links to older members, and union-find keeps n int32 parents.
 * Documents are processed one at a time with reused scratch buffers; there is no all-pairs step.
 */

/** Unit of a shingle: words (split on Unicode whitespace and punctuation) or code points. */
export type ShingleUnit = 'word' | 'character';
export const shingleUnits: readonly ShingleUnit[] = ['word', 'character'];

/** The prime of the permutations, 2³¹ − 1; also the signature value of a document without shingles. */
export const minHashPrime = 0x7fffffff;
/** Name of the shingle hashes, permutation family and band keys; an index built with another cannot be read. */
export const minHashScheme = 'fnv1a-murmur3-m31ap-v1';
export const defaultNgramSize = 5;
export const defaultNumPermutations = 128;
export const defaultJaccardThreshold = 0.8;
/**
 * Most members of one LSH bucket a document is compared with (newest first). It bounds the work a bucket
 * of thousands of copies causes; members already in the document's component are skipped cheaply, so
 * only a bucket holding more than this many distinct near-duplicate groups can miss an edge.
 */
export const maxBucketScan = 256;

export interface MinHashOptions {
  /** Applied before shingling; default none. */
  normalization?: TextNormalization;
  /** Default `word`. */
  shingleUnit?: ShingleUnit;
  /** Units per shingle; default 5. A document with fewer units is one shingle of all of them. */
  ngramSize?: number;
  /** Permutations per signature P; default 128. */
  numPermutations?: number;
  /** Seed of the permutations, a non-negative safe integer (folded to 32 bits); default 0. */
  seed?: number;
}

export interface MinHashDedupOptions extends MinHashOptions {
  /** Jaccard similarity at or above which two documents are duplicates, in (0, 1); default 0.8. */
  threshold?: number;
  /** LSH bands b (rows r = ⌊P/b⌋); default chosen from the threshold by {@link chooseBandsRows}. */
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

/** Band keys of an earlier dataset's kept documents, with their record ids. */
export interface MinHashIndex {
  params: MinHashParams;
  ids: readonly string[];
  /** 64-bit band keys as (high, low) uint32 pairs: ids.length × bands × 2 values, row-major. */
  bandKeys: Uint32Array;
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
   * are verified, else the signature agreement rate; for an indexed match, (matching bands / b)^(1/r), the
   * estimate of s from P(band match) = s^r. NaN for kept documents.
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

// ---------------------------------------------------------------------------------------------- shingles

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;
// Per UTF-16 code unit: 0 not yet classified, 1 separator (whitespace or punctuation), 2 part of a word.
const charClass = new Uint8Array(65536);
const separatorPattern = /[\s\p{P}]/u;

function classify(unit: number): number {
  // Surrogate halves are parts of astral characters, which we count as word characters.
  const isSurrogate = unit >= 0xd800 && unit <= 0xdfff;
  const cls = !isSurrogate && separatorPattern.test(String.fromCharCode(unit)) ? 1 : 2;
  charClass[unit] = cls;
  return cls;
}

/** The murmur3 block scramble of one 32-bit token. */
function scramble(token: number): number {
  const k = Math.imul(token, 0xcc9e2d51);
  return Math.imul((k << 15) | (k >>> 17), 0x1b873593);
}

/** One murmur3 block step of `h` with an already scrambled token. */
function mixScrambled(h: number, scrambled: number): number {
  h ^= scrambled;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixToken(h: number, token: number): number {
  return mixScrambled(h, scramble(token));
}

function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Reused per-document buffers; they grow to the longest document seen. */
class ShingleScratch {
  tokens = new Uint32Array(1024);
  shingles = new Uint32Array(1024);

  /**
   * Writes the shingle hashes of `text` (already normalised) into `shingles`; returns their count. Tokens
   * are stored scrambled, so each of the n tokens of a shingle costs one mixing step.
   */
  fill(text: string, unit: ShingleUnit, ngramSize: number): number {
    if (this.tokens.length < text.length) {
      this.tokens = new Uint32Array(text.length * 2);
      this.shingles = new Uint32Array(text.length * 2);
    }
    const tokens = this.tokens;
    let count = 0;
    if (unit === 'word') {
      let h = fnvOffset;
      let inWord = false;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const cls = (charClass[c] as number) || classify(c);
        if (cls === 2) {
          h = Math.imul(h ^ c, fnvPrime);
          inWord = true;
        } else if (inWord) {
          tokens[count++] = scramble(h);
          h = fnvOffset;
          inWord = false;
        }
      }
      if (inWord) tokens[count++] = scramble(h);
    } else {
      for (let i = 0; i < text.length; i++) {
        const c = text.codePointAt(i) as number;
        tokens[count++] = scramble(c);
        if (c > 0xffff) i++;
      }
    }
    if (count === 0) return 0;
    const width = Math.min(ngramSize, count);
    const shingles = count - width + 1;
    const out = this.shingles;
    for (let j = 0; j < shingles; j++) {
      let h = 0x2545f491;
      for (let k = 0; k < width; k++) h = mixScrambled(h, tokens[j + k] as number);
      out[j] = finalMix(h ^ width);
    }
    return shingles;
  }
}

/** Sorts `values[0, count)` and removes repeats in place; returns the number of distinct values. */
function sortUnique(values: Uint32Array, count: number): number {
  if (count === 0) return 0;
  values.subarray(0, count).sort();
  let m = 1;
  for (let i = 1; i < count; i++) {
    const v = values[i] as number;
    if (v !== values[m - 1]) values[m++] = v;
  }
  return m;
}

/** |A ∩ B| / |A ∪ B| of two sorted sets without repeats; 1 when both are empty (two empty documents are equal). */
function sortedJaccard(a: Uint32Array, na: number, b: Uint32Array, nb: number): number {
  if (na === 0 && nb === 0) return 1;
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < na && j < nb) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return common / (na + nb - common);
}

/** The sorted distinct shingle hashes of `text` after normalisation, as MinHash sees the document. */
export function shingleSet(text: string, options: MinHashOptions = {}): Uint32Array {
  const { normalization, shingleUnit, ngramSize } = resolveShingling(options);
  const scratch = new ShingleScratch();
  const count = scratch.fill(normalizeText(text, normalization), shingleUnit, ngramSize);
  return scratch.shingles.slice(0, sortUnique(scratch.shingles, count));
}

/** Jaccard similarity of two shingle sets from {@link shingleSet} (sorted, distinct); 1 for two empty sets. */
export function jaccardSimilarity(a: Uint32Array, b: Uint32Array): number {
  return sortedJaccard(a, a.length, b, b.length);
}

// -------------------------------------------------------------------------------------------- signatures

const two31 = 2147483648;
const inverseTwo31 = 1 / two31; // exact: multiplying by it is division by 2³¹ without a divide

/** (hi·x_hi + lo·x_lo + c) mod p, where hi = a·2¹⁶ mod p and lo = a, for x = x_hi·2¹⁶ + x_lo < 2³¹. */
function mulAddMod(hi: number, lo: number, c: number, xHi: number, xLo: number): number {
  const t = hi * xHi + lo * xLo + c; // < 2⁴⁸: exact
  const q = Math.floor(t * inverseTwo31);
  const r = t - q * two31 + q; // t ≡ q + (t mod 2³¹), because 2³¹ ≡ 1 (mod p)
  return r >= minHashPrime ? r - minHashPrime : r;
}

/** (x + y) mod p for x, y in [0, p), in int32 without a branch. */
function addMod(x: number, y: number): number {
  const s = (x - minHashPrime + y) | 0;
  return s + ((s >> 31) & minHashPrime);
}

/**
 * P seeded permutations h_i(x) = (a_i·x + b_i) mod (2³¹ − 1) with (a_i, b_i) = (a + i·a′, b + i·b′) mod p,
 * and the signature of a shingle set under them (see the module comment for the arithmetic).
 */
export class MinHasher {
  readonly numPermutations: number;
  private readonly padded: number;
  private readonly mins: Int32Array;
  // h_0(x) = (a·x + b) mod p and the step d(x) = (a′·x + b′) mod p, each kept as a·2¹⁶ mod p, a and b.
  private readonly baseHi: number;
  private readonly baseLo: number;
  private readonly baseAdd: number;
  private readonly stepHi: number;
  private readonly stepLo: number;
  private readonly stepAdd: number;

  constructor(numPermutations: number, seed: number) {
    this.numPermutations = checkInteger(numPermutations, 'numPermutations', 1, 4096);
    checkInteger(seed, 'seed', 0);
    // The inner loop runs four permutations per pass; the padding ones are computed and ignored.
    this.padded = Math.ceil(numPermutations / 4) * 4;
    this.mins = new Int32Array(this.padded);
    const { a, b, aStep, bStep } = drawCoefficients(seed, this.padded);
    this.baseHi = (a * 65536) % minHashPrime;
    this.baseLo = a;
    this.baseAdd = b;
    this.stepHi = (aStep * 65536) % minHashPrime;
    this.stepLo = aStep;
    this.stepAdd = bStep;
  }

  /** a_i and b_i of permutation i (for tests and documentation). */
  coefficients(i: number): { a: number; b: number } {
    const times = (x: number, k: number) => Number((BigInt(x) * BigInt(k)) % BigInt(minHashPrime));
    return {
      a: (this.baseLo + times(this.stepLo, i)) % minHashPrime,
      b: (this.baseAdd + times(this.stepAdd, i)) % minHashPrime,
    };
  }

  /**
   * Writes the P minima of the first `count` shingle hashes into out[offset, offset + P). A document
   * without shingles gets p in every position, a value no shingle produces.
   */
  signature(shingles: Uint32Array, count: number, out: Uint32Array, offset: number): void {
    const mins = this.mins;
    mins.fill(minHashPrime);
    let j = 0;
    for (; j + 1 < count; j += 2) this.twoShingles(shingles[j] as number, shingles[j + 1] as number);
    if (j < count) this.twoShingles(shingles[j] as number, shingles[j] as number);
    for (let i = 0; i < this.numPermutations; i++) out[offset + i] = mins[i] as number;
  }

  /**
   * Folds two shingles into the running minima. Permutation i + 4 of a shingle is permutation i's value
   * plus 4·d(x) mod p, so each shingle runs four independent add-and-reduce chains; two shingles per pass
   * halve the loads and stores of the minima. This loop is where MinHash spends its time.
   */
  private twoShingles(first: number, second: number): void {
    const mins = this.mins;
    const padded = this.padded;
    const p = minHashPrime;
    let a0 = this.firstValue(first);
    const da = this.stepValue(first);
    let a1 = addMod(a0, da);
    let a2 = addMod(a1, da);
    let a3 = addMod(a2, da);
    const da4 = addMod(addMod(da, da), addMod(da, da)) - p; // 4d mod p, shifted to [-p, 0)
    let b0 = this.firstValue(second);
    const db = this.stepValue(second);
    let b1 = addMod(b0, db);
    let b2 = addMod(b1, db);
    let b3 = addMod(b2, db);
    const db4 = addMod(addMod(db, db), addMod(db, db)) - p;
    for (let i = 0; i < padded; i += 4) {
      let m = mins[i] as number;
      if (a0 < m || b0 < m) mins[i] = Math.min(m, a0, b0);
      m = mins[i + 1] as number;
      if (a1 < m || b1 < m) mins[i + 1] = Math.min(m, a1, b1);
      m = mins[i + 2] as number;
      if (a2 < m || b2 < m) mins[i + 2] = Math.min(m, a2, b2);
      m = mins[i + 3] as number;
      if (a3 < m || b3 < m) mins[i + 3] = Math.min(m, a3, b3);
      // (h + 4d) mod p without a branch: h + (4d − p) is in [-p, p); add p back when negative.
      a0 = (a0 + da4) | 0;
      a0 += (a0 >> 31) & p;
      a1 = (a1 + da4) | 0;
      a1 += (a1 >> 31) & p;
      a2 = (a2 + da4) | 0;
      a2 += (a2 >> 31) & p;
      a3 = (a3 + da4) | 0;
      a3 += (a3 >> 31) & p;
      b0 = (b0 + db4) | 0;
      b0 += (b0 >> 31) & p;
      b1 = (b1 + db4) | 0;
      b1 += (b1 >> 31) & p;
      b2 = (b2 + db4) | 0;
      b2 += (b2 >> 31) & p;
      b3 = (b3 + db4) | 0;
      b3 += (b3 >> 31) & p;
    }
  }

  /** h_0(x) for shingle hash `shingle` (x = shingle >>> 1 < 2³¹, split into 15 + 16 bits). */
  private firstValue(shingle: number): number {
    const x = shingle >>> 1;
    return mulAddMod(this.baseHi, this.baseLo, this.baseAdd, x >>> 16, x & 0xffff) | 0;
  }

  /** d(x) = (a′·x + b′) mod p, the step from permutation i to i + 1. */
  private stepValue(shingle: number): number {
    const x = shingle >>> 1;
    return mulAddMod(this.stepHi, this.stepLo, this.stepAdd, x >>> 16, x & 0xffff) | 0;
  }
}

/**
 * a, a′ uniform on [1, p) and b, b′ on [0, p) from the seed (a safe integer, folded to 32 bits for the
 * generator), redrawn when some a_i = a + i·a′ of the first `count` is 0 (probability about count/p). The a_i
 * are distinct because a′ ≠ 0.
 */
function drawCoefficients(seed: number, count: number): { a: number; b: number; aStep: number; bStep: number } {
  const random = seededRandom((seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b1));
  const below = (m: number) => Math.floor(random() * m);
  for (;;) {
    const a = 1 + below(minHashPrime - 1);
    const aStep = 1 + below(minHashPrime - 1);
    const b = below(minHashPrime);
    const bStep = below(minHashPrime);
    let ai = a;
    let nonZero = true;
    for (let i = 0; i < count && nonZero; i++, ai = addMod(ai, aStep)) nonZero = ai !== 0;
    if (nonZero) return { a, b, aStep, bStep };
  }
}

/** The n × P signatures of `texts` (normalise, shingle, MinHash), computed one document at a time. */
export function minHashSignatures(texts: readonly string[], options: MinHashOptions = {}): Uint32Array {
  const { normalization, shingleUnit, ngramSize } = resolveShingling(options);
  const hasher = new MinHasher(options.numPermutations ?? defaultNumPermutations, options.seed ?? 0);
  const p = hasher.numPermutations;
  const out = new Uint32Array(texts.length * p);
  const scratch = new ShingleScratch();
  for (let d = 0; d < texts.length; d++) {
    const count = scratch.fill(normalizeText(texts[d] as string, normalization), shingleUnit, ngramSize);
    hasher.signature(scratch.shingles, count, out, d * p);
  }
  return out;
}

/** Fraction of equal positions of signature rows i and j: the MinHash estimate of their Jaccard similarity. */
export function signatureAgreement(signatures: Uint32Array, p: number, i: number, j: number): number {
  let equal = 0;
  for (let k = 0; k < p; k++) if (signatures[i * p + k] === signatures[j * p + k]) equal++;
  return equal / p;
}

// ----------------------------------------------------------------------------------------------- banding

/** Probability that two documents of Jaccard similarity s share at least one of b bands of r rows: 1 − (1 − s^r)^b. */
export function sCurve(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

function simpson(f: (s: number) => number, from: number, to: number, intervals = 64): number {
  const h = (to - from) / intervals;
  let sum = f(from) + f(to);
  for (let i = 1; i < intervals; i++) sum += f(from + i * h) * (i % 2 === 1 ? 4 : 2);
  return (sum * h) / 3;
}

/**
 * Bands b and rows r with b·r ≤ P minimising w_fp·FP + w_fn·FN, where FP = ∫₀ᵗ S(s) ds is the false-positive
 * area under the S-curve S(s) = 1 − (1 − s^r)^b below the threshold and FN = ∫ₜ¹ (1 − S(s)) ds the
 * false-negative area above it (Simpson's rule, 64 intervals). Equal weights by default, the proto's "sum
 * of false-positive and false-negative probability". At P = 128: t = 0.8 gives 9 × 13, t = 0.9 gives 5 × 25.
 */
export function chooseBandsRows(
  numPermutations: number,
  threshold: number,
  weights: { falsePositive: number; falseNegative: number } = { falsePositive: 0.5, falseNegative: 0.5 },
): { bands: number; rows: number } {
  checkInteger(numPermutations, 'numPermutations', 1, 4096);
  checkInRange(threshold, 'threshold', 0, 1);
  let best = { bands: 1, rows: numPermutations, cost: Number.POSITIVE_INFINITY };
  for (let bands = 1; bands <= numPermutations; bands++) {
    for (let rows = 1; bands * rows <= numPermutations; rows++) {
      const fp = simpson((s) => sCurve(s, bands, rows), 0, threshold);
      const fn = simpson((s) => 1 - sCurve(s, bands, rows), threshold, 1);
      const cost = weights.falsePositive * fp + weights.falseNegative * fn;
      if (cost < best.cost) best = { bands, rows, cost };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

/**
 * Writes the 64-bit keys of all bands of the signature at `offset` into out[0, 2·bands) as (high, low)
 * pairs: band k hashes rows [k·r, k·r + r) with two independently seeded murmur3-style mixes, so two
 * different bands collide with probability 2⁻⁶⁴ (no spurious candidates in practice).
 */
function bandKeysOf(signatures: Uint32Array, offset: number, bands: number, rows: number, out: Uint32Array): void {
  for (let band = 0; band < bands; band++) {
    let h1 = 0x3c6ef372 ^ band;
    let h2 = 0x510e527f ^ Math.imul(band, 0x9e3779b1);
    const start = offset + band * rows;
    for (let k = 0; k < rows; k++) {
      const v = signatures[start + k] as number;
      h1 = mixToken(h1, v);
      h2 = mixToken(h2, v ^ 0x5bd1e995);
    }
    out[2 * band] = finalMix(h1 ^ rows);
    out[2 * band + 1] = finalMix(h2 + 0x68e31da4);
  }
}

/**
 * For each band, a map from 64-bit band key to the newest document (or index slot) with that key: open
 * addressing with linear probing in typed arrays, sized for `entries` keys per band at load ≤ 1/2, so
 * bands × 2^⌈log₂ 2·entries⌉ × 12 bytes (28 MB for 100k documents and 9 bands). A JavaScript Map keyed by
 * numbers measured 5× slower here (keys above 2³¹ are heap numbers) and holds only 53 bits.
 */
class BandTables {
  private readonly capacity: number;
  private readonly mask: number;
  private readonly keyHigh: Uint32Array;
  private readonly keyLow: Uint32Array;
  private readonly newest: Int32Array;

  constructor(bands: number, entries: number) {
    this.capacity = 2 ** Math.ceil(Math.log2(Math.max(2, 2 * entries)));
    this.mask = this.capacity - 1;
    this.keyHigh = new Uint32Array(bands * this.capacity);
    this.keyLow = new Uint32Array(bands * this.capacity);
    this.newest = new Int32Array(bands * this.capacity).fill(-1);
  }

  /** The slot of band `band`'s key (high, low): where it is, or the empty slot where it would go. */
  private slot(band: number, high: number, low: number): number {
    const base = band * this.capacity;
    let i = low & this.mask;
    for (;;) {
      const at = base + i;
      if (this.newest[at] === -1 || (this.keyLow[at] === low && this.keyHigh[at] === high)) return at;
      i = (i + 1) & this.mask;
    }
  }

  /** The newest entry with this key in this band, or -1. */
  get(band: number, high: number, low: number): number {
    return this.newest[this.slot(band, high, low)] as number;
  }

  /** Makes `entry` the newest with this key in this band; returns the previous newest, or -1. */
  push(band: number, high: number, low: number, entry: number): number {
    const at = this.slot(band, high, low);
    const previous = this.newest[at] as number;
    this.keyHigh[at] = high;
    this.keyLow[at] = low;
    this.newest[at] = entry;
    return previous;
  }
}

// ----------------------------------------------------------------------------------------- deduplication

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    const grand = parent[parent[i] as number] as number;
    parent[i] = grand; // path halving
    i = grand;
  }
  return i;
}

/** Joins the components of a and b under the smaller root; false when they were already one. */
function union(parent: Int32Array, a: number, b: number): boolean {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra === rb) return false;
  if (ra < rb) parent[rb] = ra;
  else parent[ra] = rb;
  return true;
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

  /** The indexed slot sharing most bands with `keys` (earliest on ties) and that count; slot -1 when none. */
  match(keys: Uint32Array): { slot: number; bands: number } {
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
    let bestCount = 0;
    for (const slot of this.touched) {
      const c = this.counts[slot] as number;
      if (c > bestCount || (c === bestCount && slot < best)) {
        best = slot;
        bestCount = c;
      }
      this.counts[slot] = 0;
    }
    this.touched.length = 0;
    return { slot: best, bands: bestCount };
  }
}

/**
 * MinHash LSH near-deduplication in one streaming pass. Per document: normalise, shingle, compute the
 * signature into its row, hash each band to a key; documents sharing a key in any band are candidates;
 * candidates (optionally verified by exact Jaccard ≥ threshold) are joined by union-find, so a chain
 * a~b, b~c is one component with one survivor chosen by the keep rule.
 *
 * Incremental mode: a document sharing a band key with a record of `index` is dropped with that record's
 * id (indexed records always win; such matches cannot be verified, the index holds no shingles). The match
 * is per document and not followed transitively: the survivor of a component is chosen among its members
 * the index did not claim.
 */
export function minHashDedup(texts: readonly string[], options: MinHashDedupOptions = {}): MinHashDedupResult {
  const n = texts.length;
  const threshold = checkInRange(options.threshold ?? defaultJaccardThreshold, 'threshold', 0, 1);
  const params = resolveMinHashParams(options, threshold);
  const { numPermutations: p, bands, rows } = params;
  const verifyCandidates = options.verifyCandidates ?? true;
  const keep = checkOneOf(options.keep ?? 'first', 'keep', duplicateKeeps);
  const ids = checkIds(options.ids, n, keep);
  if (options.index !== undefined) checkMinHashIndex(options.index, params);
  const lookup = options.index === undefined ? undefined : new IndexLookup(options.index, bands);

  const signatures = new Uint32Array(n * p);
  const hasher = new MinHasher(p, params.seed);
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
    parent[d] = d;
    const count = scratch.fill(
      normalizeText(texts[d] as string, params.normalization),
      params.shingleUnit,
      params.ngramSize,
    );
    hasher.signature(scratch.shingles, count, signatures, d * p);
    bandKeysOf(signatures, d * p, bands, rows, keys);
    if (lookup !== undefined) {
      const match = lookup.match(keys);
      if (match.slot >= 0) {
        indexedSlot[d] = match.slot;
        jaccard[d] = (match.bands / bands) ** (1 / rows);
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
  let slot = 0;
  for (let i = 0; i < result.kept.length; i++) {
    if (result.kept[i] !== 1) continue;
    bandKeysOf(result.signatures, i * p, bands, rows, bandKeys.subarray(slot * bands * 2, (slot + 1) * bands * 2));
    slot++;
  }
  return { params: result.params, ids: keptIds, bandKeys };
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
}

function resolveShingling(options: MinHashOptions) {
  return {
    normalization: options.normalization ?? noTextNormalization,
    shingleUnit: checkOneOf(options.shingleUnit ?? 'word', 'shingleUnit', shingleUnits),
    ngramSize: checkInteger(options.ngramSize ?? defaultNgramSize, 'ngramSize', 1, 1000),
  };
}

/** The step's parameters with defaults applied and bands × rows resolved from the threshold when not given. */
export function resolveMinHashParams(options: MinHashOptions & { bands?: number }, threshold: number): MinHashParams {
  const numPermutations = checkInteger(options.numPermutations ?? defaultNumPermutations, 'numPermutations', 1, 4096);
  const seed = checkInteger(options.seed ?? 0, 'seed', 0);
  let bands: number;
  let rows: number;
  if (options.bands === undefined) ({ bands, rows } = chooseBandsRows(numPermutations, threshold));
  else {
    bands = checkInteger(options.bands, 'bands', 1, numPermutations);
    rows = Math.floor(numPermutations / bands);
  }
  return { scheme: minHashScheme, ...resolveShingling(options), numPermutations, bands, rows, seed };
}
