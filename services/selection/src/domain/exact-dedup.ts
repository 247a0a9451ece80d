import { createHash } from 'node:crypto';
import { checkOneOf, invalidArgument } from './parameter-checks.js';
import { recordsPerStep, runToEnd, type Steps } from './steps.js';
import {
  describeTextNormalization,
  normalizeText,
  noTextNormalization,
  sameTextNormalization,
  type TextNormalization,
} from './text-normalization.js';

/**
 * Which record of a group of duplicates survives (the proto's DuplicateKeepRule).
 * - `first`: the first in dataset order.
 * - `last`: the last in dataset order.
 * - `smallest-id`: the one whose id is smallest bytewise (UTF-8 byte order), independent of file order;
 *   equal ids fall back to dataset order.
 */
export type DuplicateKeep = 'first' | 'last' | 'smallest-id';

export const duplicateKeeps: readonly DuplicateKeep[] = ['first', 'last', 'smallest-id'];

/** `duplicateOf` value of a record dropped because it duplicates a record of a loaded index. */
export const indexedDuplicate = -2;

/**
 * Name of the exact-dedup digest: SHA-256 of the normalised text's UTF-8 bytes, truncated to 128 bits.
 * With n distinct texts the chance that any two share a digest is about n² / 2¹²⁹ (birthday bound): 1.5e-21
 * for a billion records, so a digest match is treated as equal text. SHA-256 rather than MD5 or SHA-1
 * because nobody can construct colliding texts for it (a crafted MD5 collision would silently drop a
 * record), and with the CPU's SHA extensions it is as fast as MD5 in Node.
 */
export const exactDigestName = 'sha256-128';

/** 32 hex digits: the {@link exactDigestName} digest of `normalizedText`. */
export function exactDigest(normalizedText: string): string {
  return createHash('sha256').update(normalizedText, 'utf8').digest('hex').slice(0, 32);
}

/**
 * Digests of an earlier dataset's kept records, for incremental deduplication: a record of this dataset
 * whose digest is in `records` is dropped in favour of the indexed record (indexed records always win).
 */
export interface ExactIndex {
  /** Digest scheme; must be {@link exactDigestName}. */
  digest: string;
  /** Normalisation the digests were computed after; must equal the step's. */
  normalization: TextNormalization;
  /** Hex digest → id of the earlier record. */
  records: Map<string, string>;
}

export interface ExactDedupOptions {
  /** Applied before hashing; default none. */
  normalization?: TextNormalization;
  /** Default `first`. */
  keep?: DuplicateKeep;
  /** One id per text; required for `smallest-id` and to build an index of this dataset. */
  ids?: readonly string[];
  /** Earlier datasets' digests to deduplicate against. */
  index?: ExactIndex;
}

export interface ExactDedupResult {
  normalization: TextNormalization;
  keep: DuplicateKeep;
  /** 1 when the record survives. */
  kept: Uint8Array;
  /**
   * -1 for a kept record; the index of the kept record with the same digest for a dropped one; -2
   * ({@link indexedDuplicate}) when the record duplicates a record of the loaded index.
   */
  duplicateOf: Int32Array;
  /** Id of the indexed record a record duplicates where `duplicateOf` is -2; '' elsewhere. */
  indexedDuplicateOf: string[];
  /** Hex digest of each record's normalised text. */
  hashes: string[];
  /** Records dropped (within the dataset and against the index). */
  removed: number;
}

/**
 * Exact deduplication: records whose normalised texts have equal digests ({@link exactDigestName}) are
 * duplicates; one survives per group by the keep rule, and every record whose digest is in `index` is
 * dropped with the indexed record's id. O(n) time; memory one digest string per distinct text.
 */
export function exactDedup(texts: readonly string[], options: ExactDedupOptions = {}): ExactDedupResult {
  return runToEnd(exactDedupSteps(texts, options));
}

/** {@link exactDedup} as {@link Steps}: yields its progress every {@link recordsPerStep} records hashed. */
export function* exactDedupSteps(texts: readonly string[], options: ExactDedupOptions = {}): Steps<ExactDedupResult> {
  const n = texts.length;
  const normalization = options.normalization ?? noTextNormalization;
  const keep = checkOneOf(options.keep ?? 'first', 'keep', duplicateKeeps);
  const ids = checkIds(options.ids, n, keep);
  const index = options.index;
  if (index !== undefined) checkExactIndex(index, normalization);

  const hashes = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    if (i % recordsPerStep === 0 && i > 0) yield { done: i, total: n };
    hashes[i] = exactDigest(normalizeText(texts[i] as string, normalization));
  }
  const kept = new Uint8Array(n);
  const duplicateOf = new Int32Array(n).fill(-1);
  const indexedDuplicateOf = new Array<string>(n).fill('');

  // Survivor of each digest group among the records the index does not claim.
  const survivor = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const hash = hashes[i] as string;
    const indexedId = index?.records.get(hash);
    if (indexedId !== undefined) {
      duplicateOf[i] = indexedDuplicate;
      indexedDuplicateOf[i] = indexedId;
      continue;
    }
    const current = survivor.get(hash);
    if (current === undefined || prefers(keep, i, current, ids)) survivor.set(hash, i);
  }
  let removed = 0;
  for (let i = 0; i < n; i++) {
    if (duplicateOf[i] === indexedDuplicate) {
      removed++;
      continue;
    }
    const s = survivor.get(hashes[i] as string) as number;
    if (s === i) kept[i] = 1;
    else {
      duplicateOf[i] = s;
      removed++;
    }
  }
  return { normalization, keep, kept, duplicateOf, indexedDuplicateOf, hashes, removed };
}

/** The index of `result`'s kept records (digest → id), to save for later jobs. */
export function exactIndexOf(result: ExactDedupResult, ids: readonly string[]): ExactIndex {
  checkIds(ids, result.kept.length, 'first');
  const records = new Map<string, string>();
  for (let i = 0; i < result.kept.length; i++) {
    if (result.kept[i] === 1) records.set(result.hashes[i] as string, ids[i] as string);
  }
  return { digest: exactDigestName, normalization: result.normalization, records };
}

/** Fails unless `index` was built with the same digest scheme and normalisation as the step. */
export function checkExactIndex(index: ExactIndex, normalization: TextNormalization): void {
  if (index.digest !== exactDigestName) {
    throw invalidArgument('index', `uses digest '${index.digest}', this version reads '${exactDigestName}'`);
  }
  if (!sameTextNormalization(index.normalization, normalization)) {
    throw invalidArgument(
      'index',
      `was built with normalisation (${describeTextNormalization(index.normalization)}), the step uses ` +
        `(${describeTextNormalization(normalization)}); rebuild it or use the same normalisation`,
    );
  }
}

/**
 * True when record `candidate` should replace `current` as its group's survivor. Records arrive in dataset
 * order, so `first` never replaces and `last` always does.
 */
export function prefers(keep: DuplicateKeep, candidate: number, current: number, ids?: readonly string[]): boolean {
  if (keep === 'first') return candidate < current;
  if (keep === 'last') return candidate > current;
  const order = compareIdsBytewise(ids![candidate]!, ids![current]!);
  return order < 0 || (order === 0 && candidate < current);
}

/** `ids` checked against the record count (and required for `smallest-id`). */
export function checkIds(
  ids: readonly string[] | undefined,
  n: number,
  keep: DuplicateKeep,
): readonly string[] | undefined {
  if (ids === undefined) {
    if (keep === 'smallest-id') throw invalidArgument('ids', "are required for keep 'smallest-id'");
    return undefined;
  }
  if (ids.length !== n) throw invalidArgument('ids', `must have one id per text (${n}), got ${ids.length}`);
  return ids;
}

/**
 * Compares two strings in UTF-8 byte order, which is code point order. JavaScript's `<` compares UTF-16
 * code units instead and puts U+E000–U+FFFF after astral characters; mapping surrogates above the rest of
 * the BMP restores code point order without encoding either string.
 */
export function compareIdsBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}
