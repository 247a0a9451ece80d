import type { selectionV1 } from '@sift/contracts';
import type { DuplicateKeep, TextNormalization } from '../../domain/index.js';
import { duplicateKeepOf, type IndexFiles, indexFilesOf, normalizationOf } from './dedup-options.js';

/** Exact dedup (hash of the normalized text) with its defaults filled in. */
export interface ResolvedExactDedup {
  kind: 'exact-dedup';
  normalization: TextNormalization;
  keep: DuplicateKeep;
  index: IndexFiles;
}

/** Resolves an exact_dedup step; `field` names it in errors (`steps[i].exact_dedup`). */
export function resolveExactDedup(v: selectionV1.ExactDedupStep, field: string): ResolvedExactDedup {
  return {
    kind: 'exact-dedup',
    normalization: normalizationOf(v.normalization),
    keep: duplicateKeepOf(v.keep, `${field}.keep`),
    index: indexFilesOf(v.index),
  };
}
