import { BandTables, maxBucketScan } from './lsh-banding.js';
import type { MinHashParams } from './minhash-params.js';
import { invalidArgument } from './parameter-checks.js';
import { describeTextNormalization, sameTextNormalization } from './text-normalization.js';

/**
 * The index of earlier datasets that incremental MinHash dedup reads ({@link MinHashIndex}): the band keys
 * and b-bit signature sketches of their kept records. Here are its check against the step's parameters, the
 * Jaccard estimated from a sketch, and {@link IndexLookup}, which finds the indexed record a new document
 * matches best. The index is built from a dedup result by `minHashIndexOf` in minhash.ts.
 */

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

/** Band keys of an index in {@link BandTables}, with a chain from each slot to the older slot of equal key. */
export class IndexLookup {
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
