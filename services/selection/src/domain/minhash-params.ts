import { chooseBandsRows } from './lsh-banding.js';
import { type MinHashOptions, resolveShingling, type ShingleUnit } from './minhash-shingles.js';
import { defaultNumPermutations } from './minhash-signatures.js';
import { checkInteger } from './parameter-checks.js';
import type { TextNormalization } from './text-normalization.js';

/**
 * The parameters of a MinHash dedup that decide a document's band keys ({@link MinHashParams}, which an
 * index must match to be read), and how a step's options resolve to them: defaults applied, and bands × rows
 * chosen from the Jaccard threshold with the false-positive and false-negative weights of {@link bandWeights}.
 */

/** Name of the shingle hashes, permutation family and band keys; an index built with another cannot be read. */
export const minHashScheme = 'fnv1a-murmur3-m31ap-v1';

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
