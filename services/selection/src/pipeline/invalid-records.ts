import { selectionV1 } from '@sift/contracts';
import { fieldValue, readableId } from '@sift/datasets';
import { requireKnownEnum, SiftError } from '@sift/kit';
import type { PipelineState } from './state.js';

/** Share of invalid records a skipping job accepts when `dataset.max_invalid_fraction` is 0. */
export const defaultMaxInvalidFraction = 0.01;

/** Invalid records a report, or a failure over the cap, names: enough to see the pattern, short to read. */
export const invalidRecordsNamed = 5;

/** How a job treats records whose text (or id) field is missing or of the wrong type. */
export interface InvalidRecordPolicy {
  /** Skip them (decided as invalid-record at load) instead of failing the job on the first. */
  skip: boolean;
  /** Largest share of the records read that may be invalid, when skipping. */
  maxFraction: number;
}

/**
 * The dataset's `invalid_records` and `max_invalid_fraction`, defaults filled in. INVALID_ARGUMENT for an
 * unknown mode, a fraction outside [0, 1], or a fraction given without skipping (it would do nothing, so the
 * request most likely meant to skip).
 */
export function invalidRecordPolicy(dataset: selectionV1.Dataset): InvalidRecordPolicy {
  const mode = requireKnownEnum(dataset.invalidRecords, selectionV1.InvalidRecords, 'dataset.invalid_records');
  const skip = mode === selectionV1.InvalidRecords.INVALID_RECORDS_SKIP;
  const fraction = dataset.maxInvalidFraction;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new SiftError('invalid_argument', `dataset.max_invalid_fraction must be in [0, 1], got ${fraction}`);
  }
  if (fraction !== 0 && !skip) {
    throw new SiftError(
      'invalid_argument',
      'dataset.max_invalid_fraction applies only with dataset.invalid_records = INVALID_RECORDS_SKIP',
    );
  }
  return { skip, maxFraction: fraction || defaultMaxInvalidFraction };
}

/** What a decision and a report say of an invalid record: the reader's reason and where it is. */
export function invalidRecordDetail(location: string, reason: string): string {
  // The same words as the failure of a job that does not skip (@sift/datasets' readRecords).
  return `${reason} at ${location}`;
}

/**
 * The id an invalid record's decision carries: the id field's value when it is readable (a string, a finite
 * number or a bigint, as for a valid record); else, in a dataset with an id field, `#` and the record's
 * zero-based position (a bare position could equal another record's numeric id); in a dataset without one,
 * the position, as every record there.
 */
export function invalidRecordId(raw: Record<string, unknown>, index: number, idField: string): string {
  if (!idField) return String(index);
  return readableId(fieldValue(raw, idField)) ?? `#${index}`;
}

/** Invalid records met so far: their count and the first few, in dataset order. */
export interface InvalidRecordTally {
  count: number;
  first: { id: string; detail: string }[];
}

/**
 * INVALID_ARGUMENT when more than `maxFraction` of the `total` records read are invalid: a wrong text field
 * makes every record invalid, and skipping them all would succeed with nothing selected from.
 */
export function checkInvalidShare(tally: InvalidRecordTally, total: number, maxFraction: number): void {
  if (tally.count === 0 || tally.count <= maxFraction * total) return;
  const share = ((100 * tally.count) / total).toFixed(1);
  const named = tally.first.map((r) => r.detail).join('; ');
  throw new SiftError(
    'invalid_argument',
    `${tally.count} of ${total} records (${share}%) are invalid, more than dataset.max_invalid_fraction ` +
      `(${maxFraction}) allows; check dataset.text_field and dataset.id_field. The first: ${named}`,
  );
}

/** The invalid records a job skipped, from its state: their count and the first few (for the report). */
export function invalidRecordsOf(state: PipelineState): InvalidRecordTally {
  const tally: InvalidRecordTally = { count: 0, first: [] };
  // Load decides them first and in dataset order, so the map's order is theirs.
  for (const [i, d] of state.drops) {
    if (d.reason !== 'invalid-record') continue;
    tally.count += 1;
    if (tally.first.length < invalidRecordsNamed) tally.first.push({ id: state.ids[i] ?? '', detail: d.detail ?? '' });
  }
  return tally;
}
