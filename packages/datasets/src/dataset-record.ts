/** One record of a dataset as the selection pipeline sees it. */
export interface DatasetRecord {
  /** Zero-based position across all files of the dataset, counting records dropped as invalid. */
  index: number;
  /** Value of the id field as a string, or `String(index)` when the dataset has no id field. */
  id: string;
  /** Value of the text field. */
  text: string;
  /**
   * The whole record as read: parsed JSON for JSONL (integers beyond ±(2⁵³ − 1) as their exact decimal
   * strings, which `JSON.parse` would round); for Parquet, hyparquet's values (INT64 as bigint, ...).
   */
  raw: Record<string, unknown>;
  /**
   * JSONL: the record's line as read, so that a JSONL output can carry it unchanged (every number as
   * written, keys and spacing as they were) instead of re-serialising `raw`.
   */
  line?: string;
}

/** A record that was read but cannot be selected on: its text or id field is missing or of the wrong type. */
export interface InvalidRecord {
  index: number;
  /** `file:line` for JSONL, `file row N` for Parquet; both 1-based. */
  location: string;
  /** Why, e.g. `missing text field "text"`. */
  reason: string;
  raw: Record<string, unknown>;
}

/** Which fields hold the text and the id; a dot-separated name reaches into nested objects. */
export interface RecordFields {
  textField: string;
  idField?: string | undefined;
}

/**
 * The value at `field` in `record`. A key that literally contains dots wins over the nested reading, so
 * `{"meta.lang": "en"}` and `{"meta": {"lang": "en"}}` both answer `meta.lang`.
 */
export function fieldValue(record: Record<string, unknown>, field: string): unknown {
  if (Object.hasOwn(record, field) || !field.includes('.')) return record[field];
  let value: unknown = record;
  for (const part of field.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Builds the pipeline's view of a raw record, or returns why it cannot: the text must be a string and the id
 * (when an id field is named) a string, a finite number or a bigint. Null counts as missing.
 */
export function toDatasetRecord(
  raw: Record<string, unknown>,
  index: number,
  fields: RecordFields,
): DatasetRecord | { reason: string } {
  const text = fieldValue(raw, fields.textField);
  if (text === null) return { reason: `text field "${fields.textField}" is null` };
  if (text === undefined) {
    const keys = Object.keys(raw);
    const has =
      keys.length === 0 ? 'no fields' : `fields ${keys.slice(0, 12).join(', ')}${keys.length > 12 ? ', ...' : ''}`;
    return { reason: `missing text field "${fields.textField}" (the record has ${has})` };
  }
  if (typeof text !== 'string') {
    return { reason: `text field "${fields.textField}" is not a string (got ${typeName(text)})` };
  }
  if (!fields.idField) return { index, id: String(index), text, raw };
  const id = fieldValue(raw, fields.idField);
  if (id === undefined || id === null) return { reason: `missing id field "${fields.idField}"` };
  const readable = readableId(id);
  if (readable !== undefined) return { index, id: readable, text, raw };
  if (typeof id === 'number') {
    // JSON.parse reads a number beyond the float64 range (`1e400`) as Infinity: it has no exact value to use.
    const why = Number.isNaN(id) ? 'got NaN' : `got ${id}: a number beyond about 1.8e308 reads as that`;
    return { reason: `id field "${fields.idField}" is not a finite number (${why}); write the id as a string` };
  }
  return { reason: `id field "${fields.idField}" is not a string or number (got ${typeName(id)})` };
}

/** An id field's value as the record's id: a string as is, a finite number or a bigint in decimal; else undefined. */
export function readableId(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') return String(value);
  return undefined;
}

/** A short type name for messages: `array`, `object`, `number`, ... */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
