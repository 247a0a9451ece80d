import { selectionV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { decisionOf } from './decisions.js';
import {
  checkInvalidShare,
  type InvalidRecordTally,
  invalidRecordId,
  invalidRecordPolicy,
  invalidRecordsOf,
} from './invalid-records.js';
import { drop, initialState } from './state.js';

const { INVALID_RECORDS_FAIL, INVALID_RECORDS_SKIP } = selectionV1.InvalidRecords;
const dataset = (d: Partial<selectionV1.Dataset>) =>
  selectionV1.Dataset.fromPartial({ paths: ['/d.jsonl'], textField: 'text', ...d });

describe('invalidRecordPolicy', () => {
  it('fails by default and skips with a 1% cap when asked', () => {
    expect(invalidRecordPolicy(dataset({}))).toEqual({ skip: false, maxFraction: 0.01 });
    expect(invalidRecordPolicy(dataset({ invalidRecords: INVALID_RECORDS_FAIL }))).toEqual({
      skip: false,
      maxFraction: 0.01,
    });
    expect(invalidRecordPolicy(dataset({ invalidRecords: INVALID_RECORDS_SKIP }))).toEqual({
      skip: true,
      maxFraction: 0.01,
    });
    expect(invalidRecordPolicy(dataset({ invalidRecords: INVALID_RECORDS_SKIP, maxInvalidFraction: 0.2 }))).toEqual({
      skip: true,
      maxFraction: 0.2,
    });
  });

  it('refuses an unknown mode, a fraction outside [0, 1], and a fraction without skipping', () => {
    const refusal = (d: Partial<selectionV1.Dataset>) => {
      try {
        invalidRecordPolicy(dataset(d));
        return undefined;
      } catch (err) {
        return { kind: (err as { kind?: string }).kind, message: (err as Error).message };
      }
    };
    expect(refusal({ invalidRecords: 9 as selectionV1.InvalidRecords })?.message).toMatch(
      /^dataset.invalid_records has the unknown value 9/,
    );
    for (const f of [-0.1, 1.5, Number.NaN]) {
      expect(refusal({ invalidRecords: INVALID_RECORDS_SKIP, maxInvalidFraction: f })).toEqual({
        kind: 'invalid_argument',
        message: `dataset.max_invalid_fraction must be in [0, 1], got ${f}`,
      });
    }
    expect(refusal({ maxInvalidFraction: 0.5 })?.message).toBe(
      'dataset.max_invalid_fraction applies only with dataset.invalid_records = INVALID_RECORDS_SKIP',
    );
  });
});

describe('invalidRecordId', () => {
  it('is the id field when readable, else # and the position; the bare position in a dataset without ids', () => {
    expect(invalidRecordId({ id: 'doc-7', text: null }, 3, 'id')).toBe('doc-7');
    expect(invalidRecordId({ id: 42 }, 3, 'id')).toBe('42');
    expect(invalidRecordId({ meta: { id: 12n } }, 3, 'meta.id')).toBe('12');
    expect(invalidRecordId({ id: null }, 3, 'id')).toBe('#3');
    expect(invalidRecordId({ id: ['x'] }, 3, 'id')).toBe('#3');
    expect(invalidRecordId({ id: 'doc-7' }, 3, '')).toBe('3');
  });
});

describe('checkInvalidShare', () => {
  const tally = (count: number): InvalidRecordTally => ({
    count,
    first: [
      { id: '3', detail: 'text field "text" is null at /d.jsonl:4' },
      { id: '9', detail: 'missing text field "text" (the record has fields id) at /d.jsonl:10' },
    ],
  });

  it('accepts a share at the cap and refuses one above it, naming the count and the first records', () => {
    expect(() => checkInvalidShare(tally(1), 100, 0.01)).not.toThrow();
    expect(() => checkInvalidShare({ count: 0, first: [] }, 0, 0.01)).not.toThrow();
    expect(() => checkInvalidShare(tally(2), 100, 0.01)).toThrow(
      '2 of 100 records (2.0%) are invalid, more than dataset.max_invalid_fraction (0.01) allows; check ' +
        'dataset.text_field and dataset.id_field. The first: text field "text" is null at /d.jsonl:4; missing ' +
        'text field "text" (the record has fields id) at /d.jsonl:10',
    );
    expect(() => checkInvalidShare(tally(100), 100, 1)).not.toThrow();
  });
});

describe('invalid records in the state', () => {
  it('are dropped at load with their detail, decided as INVALID_RECORD, and counted for the report', () => {
    const ids = ['a', 'b', '2', 'd'];
    const state = initialState(
      ids,
      ['alpha', '', '', 'delta'],
      new Map([
        [1, 'text field "text" is null at /d.jsonl:2'],
        [2, 'text field "text" is not a string (got number) at /d.jsonl:3'],
      ]),
    );
    expect(Array.from(state.alive)).toEqual([1, 0, 0, 1]);
    drop(state, 3, { stage: 'exact', reason: 'exact-duplicate', duplicateOf: 0 });
    expect(decisionOf(state, 1)).toEqual({
      recordId: 'b',
      kept: false,
      stage: 'load',
      reason: selectionV1.DecisionReason.DECISION_REASON_INVALID_RECORD,
      duplicateOf: '',
      cluster: undefined,
      score: undefined,
      scoreStage: '',
      detail: 'text field "text" is null at /d.jsonl:2',
    });
    expect(decisionOf(state, 3)).toMatchObject({ recordId: 'd', duplicateOf: 'a', detail: '' });
    expect(invalidRecordsOf(state)).toEqual({
      count: 2,
      first: [
        { id: 'b', detail: 'text field "text" is null at /d.jsonl:2' },
        { id: '2', detail: 'text field "text" is not a string (got number) at /d.jsonl:3' },
      ],
    });
  });
});
