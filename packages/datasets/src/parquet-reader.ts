import { TextDecoder } from 'node:util';
import * as zlib from 'node:zlib';
import {
  asyncBufferFromFile,
  type Compressors,
  type FileMetaData,
  type ParquetParsers,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
} from 'hyparquet';
import { decompressLz4, decompressLz4Raw, decompressZstd } from 'hyparquet-compressors';
import { DatasetError } from './dataset-error.js';
import { fileAccessError } from './dataset-files.js';
import type { RecordFields } from './dataset-record.js';
import { defaultMaxLineBytes, type PositionedRecord } from './jsonl-reader.js';

/** Options for reading one Parquet file. */
export interface ParquetReadOptions {
  /** The text and id fields, whose columns must exist (for a dotted name, its first part may name a struct). */
  fields: RecordFields;
  /** Stop after this many rows; the last row group is then read only up to there. */
  maxRecords?: number;
  /** Largest string value read, in bytes (default 64 MiB, the JSONL line limit). */
  maxValueBytes?: number;
}

// hyparquet decodes UNCOMPRESSED and SNAPPY itself; node:zlib decodes GZIP, BROTLI and, from Node 22.15, ZSTD.
// hyparquet-compressors (hyparquet's companion) decodes ZSTD on older Nodes, and LZ4 (Hadoop framing, old
// Spark) and LZ4_RAW (DuckDB, Arrow). LZO, which almost nothing writes any more, is refused up front, named.
const zstdDecompressSync = (zlib as unknown as { zstdDecompressSync?: (input: Uint8Array) => Uint8Array })
  .zstdDecompressSync;
const decompressors: Compressors = {
  GZIP: (input) => zlib.unzipSync(input),
  BROTLI: (input) => zlib.brotliDecompressSync(input),
  ZSTD: zstdDecompressSync
    ? (input) => zstdDecompressSync(input)
    : (input, outputLength) => decompressZstd(input, new Uint8Array(outputLength)),
  LZ4: decompressLz4,
  LZ4_RAW: decompressLz4Raw,
};
const supportedCodecs: ReadonlySet<string> = new Set(['UNCOMPRESSED', 'SNAPPY', ...Object.keys(decompressors)]);

/** Stands in for a string whose bytes are not UTF-8, so the row and field can be named afterwards. */
const invalidUtf8 = Object.freeze({ invalidUtf8: true });
/** Stands for a value over the size limit, found after the row group is read to name its row. */
const tooLarge = Object.freeze({ tooLarge: true });

/**
 * Streams the rows of a Parquet file as objects, one row group at a time.
 *
 * Memory is one row group: its column chunks as read from disk, hyparquet's decoded columns and the row
 * objects built from them. Files written with huge row groups (Spark's default is 128 MiB of data) cost
 * that much; the file as a whole is never held. Strings are decoded with a fatal UTF-8 decoder, so a
 * non-UTF-8 value fails with its row and field instead of turning into U+FFFD.
 */
export async function* readParquetFile(path: string, options: ParquetReadOptions): AsyncGenerator<PositionedRecord> {
  const file = await asyncBufferFromFile(path).catch((err: unknown) => {
    throw fileAccessError(path, err);
  });
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new DatasetError(
      'invalid_argument',
      `not a readable Parquet file: ${path} (${messageOf(err)})`,
      path,
      undefined,
      {
        cause: err,
      },
    );
  }
  if (metadata.num_rows === 0n) return;
  checkColumns(metadata, path, options.fields);
  checkCodecs(metadata, path);

  const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
  let groupStart = 0;
  for (const [groupIndex, group] of metadata.row_groups.entries()) {
    if (groupStart >= maxRecords) return;
    const groupRows = Number(group.num_rows);
    const rowEnd = Math.min(groupStart + groupRows, maxRecords);
    const utf8 = { sawInvalid: false, sawTooLarge: false, maxValueBytes: options.maxValueBytes ?? defaultMaxLineBytes };
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({
        file,
        metadata,
        rowStart: groupStart,
        rowEnd,
        compressors: decompressors,
        parsers: strictUtf8Parsers(utf8),
      });
    } catch (err) {
      // File-system failures are not the data's fault; keep them as they are.
      if ((err as NodeJS.ErrnoException | undefined)?.code !== undefined) throw err;
      throw new DatasetError(
        'invalid_argument',
        `cannot decode ${path} row group ${groupIndex + 1} (rows ${groupStart + 1}-${groupStart + groupRows}): ${messageOf(err)}`,
        path,
        groupStart + 1,
        { cause: err },
      );
    }
    // A dictionary entry no selected row uses can also be invalid, so look for the marker in the rows.
    if (utf8.sawTooLarge) {
      throwAtMarker(
        rows,
        path,
        groupStart,
        tooLarge,
        (field) => `a value in field "${field}" is larger than ${utf8.maxValueBytes} bytes`,
      );
    }
    if (utf8.sawInvalid)
      throwAtMarker(rows, path, groupStart, invalidUtf8, (field) => `invalid UTF-8 in field "${field}"`);
    for (let i = 0; i < rows.length; i++) {
      yield { position: groupStart + i + 1, raw: rows[i]! };
    }
    groupStart += groupRows;
  }
}

function checkColumns(metadata: FileMetaData, path: string, fields: RecordFields): void {
  const columns = parquetSchema(metadata).children.map((child) => child.element.name);
  const present = new Set(columns);
  const wanted: [string, string | undefined][] = [
    ['text', fields.textField],
    ['id', fields.idField],
  ];
  for (const [role, field] of wanted) {
    if (!field || present.has(field) || present.has(field.split('.')[0]!)) continue;
    throw new DatasetError(
      'invalid_argument',
      `missing ${role} column "${field}" in ${path} (columns: ${columns.join(', ')})`,
      path,
    );
  }
}

function checkCodecs(metadata: FileMetaData, path: string): void {
  for (const group of metadata.row_groups) {
    for (const column of group.columns) {
      const codec = column.meta_data?.codec;
      if (codec !== undefined && !supportedCodecs.has(codec)) {
        throw new DatasetError(
          'invalid_argument',
          `${path} is compressed with ${codec}, which this reader cannot decode (it reads ${[...supportedCodecs].join(', ')}); rewrite it with SNAPPY or ZSTD`,
          path,
        );
      }
    }
  }
}

/** Strings decoded strictly: invalid UTF-8, and values over the size limit (V8 could not even hold much
 * longer ones), become markers found and reported with their row after the row group is read. */
function strictUtf8Parsers(state: {
  sawInvalid: boolean;
  sawTooLarge: boolean;
  maxValueBytes: number;
}): Partial<ParquetParsers> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Uint8Array): string | typeof invalidUtf8 | typeof tooLarge => {
    if (bytes.length > state.maxValueBytes) {
      state.sawTooLarge = true;
      return tooLarge;
    }
    try {
      return decoder.decode(bytes);
    } catch {
      state.sawInvalid = true;
      return invalidUtf8;
    }
  };
  return {
    stringFromBytes: (bytes) => bytes && decode(bytes),
    jsonFromBytes: (bytes) => {
      if (!bytes) return bytes;
      const text = decode(bytes);
      return typeof text === 'string' ? JSON.parse(text) : text;
    },
  };
}

/** Throws for the first row holding `marker` (a value the parsers refused), naming its field and row. */
function throwAtMarker(
  rows: readonly Record<string, unknown>[],
  path: string,
  groupStart: number,
  marker: object,
  what: (field: string) => string,
): void {
  for (let i = 0; i < rows.length; i++) {
    const field = markerField(rows[i], '', marker);
    if (field !== undefined) {
      const row = groupStart + i + 1;
      throw new DatasetError('invalid_argument', `${what(field)} at ${path} row ${row}`, path, row);
    }
  }
}

/** Dotted path of the first value that is `marker`, searching nested structs and lists. */
function markerField(value: unknown, path: string, marker: object): string | undefined {
  if (value === marker) return path;
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) {
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = markerField(value[i], `${path}[${i}]`, marker);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    const found = markerField(child, path === '' ? key : `${path}.${key}`, marker);
    if (found !== undefined) return found;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
