import { describe, expect, it } from 'vitest';
import { fieldValue, toDatasetRecord } from './dataset-record.js';

describe('fieldValue', () => {
  it('walks dotted names into nested objects and prefers a key that literally has the dots', () => {
    expect(fieldValue({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(fieldValue({ 'a.b': 2, a: { b: 3 } }, 'a.b')).toBe(2);
    expect(fieldValue({ a: [{ b: 1 }] }, 'a.b')).toBeUndefined();
    expect(fieldValue({ a: null }, 'a.b')).toBeUndefined();
  });
});

describe('toDatasetRecord', () => {
  it('uses the index as id when no id field is named', () => {
    expect(toDatasetRecord({ t: 'x' }, 5, { textField: 't' })).toEqual({
      index: 5,
      id: '5',
      text: 'x',
      raw: { t: 'x' },
    });
  });

  it('accepts string, number and bigint ids and says why others are refused', () => {
    const fields = { textField: 't', idField: 'id' };
    expect(toDatasetRecord({ t: 'x', id: 12n }, 0, fields)).toMatchObject({ id: '12' });
    expect(toDatasetRecord({ t: 'x', id: { a: 1 } }, 0, fields)).toEqual({
      reason: 'id field "id" is not a string or number (got object)',
    });
    expect(toDatasetRecord(JSON.parse('{"t": "x", "id": 1e400}'), 0, fields)).toEqual({
      reason:
        'id field "id" is not a finite number (got Infinity: a number beyond about 1.8e308 reads as that); write the id as a string',
    });
    expect(toDatasetRecord({ t: 'x', id: Number.NaN }, 0, fields)).toEqual({
      reason: 'id field "id" is not a finite number (got NaN); write the id as a string',
    });
    expect(toDatasetRecord({ t: null }, 0, fields)).toEqual({ reason: 'text field "t" is null' });
    expect(toDatasetRecord({ body: 'x', meta: {} }, 0, fields)).toEqual({
      reason: 'missing text field "t" (the record has fields body, meta)',
    });
  });
});
