import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type DatasetFormat, resolveFormat } from './dataset-files.js';
import { openJsonlWriter } from './jsonl-writer.js';
import { defaultRowGroupRows, openParquetWriter } from './parquet-record-writer.js';

/**
 * Writes records to one dataset file. The file appears at `path` only when `close` succeeds: records go to a
 * hidden temporary file beside it, renamed over `path` at the end, so a failed or interrupted job never
 * leaves a truncated file that looks complete.
 */
export interface RecordWriter {
  /** Where the file will be once closed. */
  readonly path: string;
  /** Records accepted so far. */
  readonly count: number;
  /**
   * Adds one record; await it, since it waits when the disk is behind (backpressure). A JSONL writer given
   * the record's JSONL `line` (see `DatasetRecord.line`) writes that line as it is; other formats use `raw`.
   */
  write(raw: Record<string, unknown>, line?: string): Promise<void>;
  /** Writes what is buffered, finishes the file and moves it to `path`. */
  close(): Promise<void>;
  /** Gives up: removes the temporary file and leaves `path` untouched. */
  abort(): Promise<void>;
}

/** Where and how to write. */
export interface RecordWriterSpec {
  path: string;
  /** `auto` picks by extension: .jsonl/.json, .jsonl.gz/.json.gz (gzip), .parquet. */
  format: DatasetFormat;
  /** Parquet only: records per row group, the unit of buffering (default 10,000). */
  rowGroupRows?: number;
  /** Parquet only: a row group also closes once its records hold about this many characters (default 64 MiB). */
  rowGroupBytes?: number;
}

/**
 * Opens a writer for one dataset file, creating its directory if absent.
 *
 * Memory: JSONL keeps only the stream's buffer (writes wait for it to drain); Parquet keeps up to
 * `rowGroupRows` records or `rowGroupBytes` of them plus their encoded row group, and the schema is fixed by
 * the first row group.
 */
export async function createRecordWriter(spec: RecordWriterSpec): Promise<RecordWriter> {
  const format = resolveFormat(spec.path, spec.format);
  await mkdir(dirname(spec.path), { recursive: true });
  const temporaryPath = join(
    dirname(spec.path),
    `.${basename(spec.path)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`,
  );
  if (format === 'parquet') {
    return openParquetWriter(spec.path, temporaryPath, spec.rowGroupRows ?? defaultRowGroupRows, spec.rowGroupBytes);
  }
  return openJsonlWriter(spec.path, temporaryPath, format === 'jsonl-gzip');
}
