import { finalMix, mixToken } from './minhash-shingles.js';
import { checkInRange, checkInteger } from './parameter-checks.js';

/**
 * Locality-sensitive hashing of MinHash signatures by banding (Leskovec, Rajaraman & Ullman, "Mining of
 * Massive Datasets", §3.4): the P positions of a signature are cut into b bands of r rows, and two documents
 * become candidates when all rows of some band agree, which for Jaccard similarity s happens with
 * probability 1 − (1 − s^r)^b (the S-curve). Each band is hashed to a 64-bit key, documents are bucketed
 * by key in {@link BandTables}, and candidates found to be duplicates are joined by union-find
 * ({@link union}), so near-duplicate groups are its components.
 */

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
 * false-negative area above it (Simpson's rule, 64 intervals). The caller gives the weights (the MinHash
 * dedup passes `bandWeights` from minhash-params.ts, which weigh misses more when candidates are verified);
 * equal weights by default, with which P = 128 and t = 0.8 give 9 × 13, t = 0.9 gives 5 × 25.
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
export function bandKeysOf(
  signatures: Uint32Array,
  offset: number,
  bands: number,
  rows: number,
  out: Uint32Array,
): void {
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
export class BandTables {
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

/**
 * Most members of one LSH bucket a document is compared with (newest first). It bounds the work a bucket
 * of thousands of copies causes; members already in the document's component are skipped cheaply, so
 * only a bucket holding more than this many distinct near-duplicate groups can miss an edge.
 */
export const maxBucketScan = 256;

/** Root of `i`'s component in the union-find forest `parent`. */
export function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    const grand = parent[parent[i] as number] as number;
    parent[i] = grand; // path halving
    i = grand;
  }
  return i;
}

/** Joins the components of a and b under the smaller root; false when they were already one. */
export function union(parent: Int32Array, a: number, b: number): boolean {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra === rb) return false;
  if (ra < rb) parent[rb] = ra;
  else parent[ra] = rb;
  return true;
}
