import { selectionV1 } from '@sift/contracts';
import { requireKnownEnum } from '@sift/kit';
import {
  type DuplicateKeep,
  defaultJaccardThreshold,
  defaultNgramSize,
  defaultNumPermutations,
  type TextNormalization,
} from '../../domain/index.js';
import { duplicateKeepOf, type IndexFiles, indexFilesOf, normalizationOf } from './dedup-options.js';
import { inRange, intIn, unsetIsDefault } from './fields.js';

/** MinHash LSH near-duplicate removal with its defaults filled in. */
export interface ResolvedMinHashDedup {
  kind: 'minhash-dedup';
  normalization: TextNormalization;
  shingleUnit: 'word' | 'character';
  ngramSize: number;
  numPermutations: number;
  threshold: number;
  /** 0: the threshold chooses bands and rows. */
  bands: number;
  verifyCandidates: boolean;
  seed: number;
  keep: DuplicateKeep;
  index: IndexFiles;
}

/** Resolves a minhash_dedup step; `field` names it in errors (`steps[i].minhash_dedup`). */
export function resolveMinHashDedup(v: selectionV1.MinHashDedupStep, field: string): ResolvedMinHashDedup {
  const numPermutations = intIn(v.numPermutations || defaultNumPermutations, 8, 1024, `${field}.num_permutations`);
  return {
    kind: 'minhash-dedup',
    normalization: normalizationOf(v.normalization),
    shingleUnit:
      requireKnownEnum(v.shingleUnit, selectionV1.ShingleUnit, `${field}.shingle_unit`) ===
      selectionV1.ShingleUnit.SHINGLE_UNIT_CHARACTER
        ? 'character'
        : 'word',
    ngramSize: intIn(v.ngramSize || defaultNgramSize, 1, 64, `${field}.ngram_size`),
    numPermutations,
    threshold: inRange(unsetIsDefault(v.jaccardThreshold, defaultJaccardThreshold), 0, 1, `${field}.jaccard_threshold`),
    bands: v.bands ? intIn(v.bands, 1, numPermutations, `${field}.bands`) : 0,
    verifyCandidates: v.verifyCandidates ?? true,
    seed: v.seed,
    keep: duplicateKeepOf(v.keep, `${field}.keep`),
    index: indexFilesOf(v.index),
  };
}
