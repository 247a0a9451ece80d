import { selectionV1 } from '@sift/contracts';
import { requireKnownEnum } from '@sift/kit';
import type { DuplicateKeep, TextNormalization } from '../../domain/index.js';

/** Index files of earlier datasets to dedup against, and where to save this dataset's. */
export interface IndexFiles {
  load: string[];
  save: string;
}

/** The contract's keep rule as the domain names it; unspecified keeps the first. */
const keepByRule: Record<number, DuplicateKeep> = {
  [selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_UNSPECIFIED]: 'first',
  [selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_FIRST]: 'first',
  [selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_LAST]: 'last',
  [selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_SMALLEST_ID]: 'smallest-id',
};

/** Which copy of a duplicate group the exact and MinHash dedups keep; INVALID_ARGUMENT for an unknown rule. */
export function duplicateKeepOf(v: selectionV1.DuplicateKeepRule, field: string): DuplicateKeep {
  return keepByRule[requireKnownEnum(v, selectionV1.DuplicateKeepRule, field)] ?? 'first';
}

/** The text normalization both dedups apply before comparing; every unset flag is off. */
export function normalizationOf(n: selectionV1.TextNormalization | undefined): TextNormalization {
  return {
    unicodeNfkc: n?.unicodeNfkc ?? false,
    lowercase: n?.lowercase ?? false,
    collapseWhitespace: n?.collapseWhitespace ?? false,
    stripPunctuation: n?.stripPunctuation ?? false,
    maskDigits: n?.maskDigits ?? false,
  };
}

/** The index files a dedup step loads and saves; none when the step names none. */
export function indexFilesOf(index: selectionV1.DedupIndex | undefined): IndexFiles {
  return { load: index?.loadPaths ?? [], save: index?.savePath ?? '' };
}
