import { DatasetError } from './dataset-error.js';
import { type DatasetFormat, listDatasetFiles } from './dataset-files.js';
import { type DatasetRecord, type InvalidRecord, type RecordFields, toDatasetRecord } from './dataset-record.js';
import { type PositionedRecord, readJsonlFile } from './jsonl-reader.js';
import { readParquetFile } from './parquet-reader.js';

/** What to read: the `Dataset` message of selection_service.proto, in TypeScript terms. */
export interface DatasetSpec {
  /** Files, or directories standing for the dataset files directly inside them (name order). At least one. */
  paths: readonly string[];
  /** Format of every file; `auto` infers it per file from .jsonl/.json, .jsonl.gz/.json.gz, .parquet. */
  format: DatasetFormat;
  /** Field holding the text; a dot-separated name reaches into nested objects. */
  textField: string;
  /** Field holding the record id; absent or empty uses the record's index as a decimal string. */
  idField?: string;
  /** Read at most this many records (invalid ones included); absent or 0 reads all. */
  limit?: number;
  /**
   * Called for a record whose text or id field is missing or of the wrong type, which is then skipped
   * (the proto's INVALID_RECORD drop). Without it such a record fails the read with a DatasetError.
   */
  onInvalidRecord?: (record: InvalidRecord) => void;
  /** Longest JSONL line, and longest Parquet string value, accepted in bytes (default 64 MiB). */
  maxLineBytes?: number;
  /**
   * The request field that sets `format`, suggested in the message about a misnamed file (a gzip file named
   * .jsonl); '' where the caller's requests have none. Default `dataset.format`.
   */
  formatField?: string;
}

/**
 * Streams a dataset's records, file after file in the order given, numbering them from 0 across files.
 *
 * Nothing is read until the first record is pulled, and stopping early (a `break`, or `limit`) closes the
 * open file. Errors are DatasetErrors naming file and 1-based line or row: `not_found` for a missing file
 * or an empty directory, `invalid_argument` for anything wrong inside a file. Duplicate ids are passed
 * through; deduplication is a later stage's job.
 *
 * Memory: JSONL holds one read chunk and one line at a time; Parquet decodes about 32 MiB of column data at
 * a time (a row group, or a slice of a larger one) and keeps a sliced group's compressed bytes meanwhile.
 */
export async function* readRecords(spec: DatasetSpec): AsyncGenerator<DatasetRecord> {
  if (!spec.textField) throw new DatasetError('invalid_argument', 'the dataset needs a text field');
  if (spec.limit !== undefined && !(Number.isSafeInteger(spec.limit) && spec.limit >= 0)) {
    throw new DatasetError('invalid_argument', `limit must be a non-negative integer, got ${spec.limit}`);
  }
  const fields: RecordFields = { textField: spec.textField, idField: spec.idField || undefined };
  const limit = spec.limit || Number.POSITIVE_INFINITY;
  const files = await listDatasetFiles(spec.paths, spec.format);

  let index = 0;
  for (const file of files) {
    if (index >= limit) return;
    let records: AsyncGenerator<PositionedRecord>;
    let locate: (position: number) => string;
    if (file.format === 'parquet') {
      records = readParquetFile(file.path, {
        fields,
        maxRecords: limit - index,
        ...(spec.maxLineBytes ? { maxValueBytes: spec.maxLineBytes } : {}),
      });
      locate = (row) => `${file.path} row ${row}`;
    } else {
      const gzip = file.format === 'jsonl-gzip';
      records = readJsonlFile(file.path, {
        gzip,
        ...(spec.maxLineBytes ? { maxLineBytes: spec.maxLineBytes } : {}),
        ...(spec.formatField !== undefined ? { formatField: spec.formatField } : {}),
      });
      locate = (line) => `${file.path}:${line}`;
    }
    for await (const { position, raw, line } of records) {
      const record = toDatasetRecord(raw, index, fields);
      if (line !== undefined && !('reason' in record)) record.line = line;
      if ('reason' in record) {
        const location = locate(position);
        if (!spec.onInvalidRecord) {
          throw new DatasetError('invalid_argument', `${record.reason} at ${location}`, file.path, position);
        }
        spec.onInvalidRecord({ index, location, reason: record.reason, raw });
      } else {
        yield record;
      }
      index += 1;
      if (index >= limit) return;
    }
  }
}
