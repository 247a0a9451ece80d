import { TextDecoder } from 'node:util';
import * as zlib from 'node:zlib';
import {
  type AsyncBuffer,
  type Awaitable,
  asyncBufferFromFile,
  type ColumnMetaData,
  type Compressors,
  type FileMetaData,
  type ParquetParsers,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
  type RowGroup,
} from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
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
  /** Uncompressed bytes of column data decoded at a time (default `defaultSliceBytes`); see `rowsPerSlice`. */
  sliceBytes?: number;
}

/**
 * Uncompressed column data decoded at a time. A row group larger than this is read in slices of rows: pyarrow
 * writes 1Mi rows per row group whatever their size, and a 2.9 GB group of 1M documents then took 3.1 GB of
 * heap when decoded whole, near Node's default limit (about 4 GB on a 24 GB machine).
 */
export const defaultSliceBytes = 32 * 1024 * 1024;

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
 * Streams the rows of a Parquet file as objects, a slice of rows at a time.
 *
 * Memory: a row group up to `sliceBytes` of uncompressed data is decoded whole; a larger one is decoded in
 * slices of about that much, its compressed column chunks read from disk once and kept while its slices are
 * decoded (so an UNCOMPRESSED file with a huge row group still holds that group's bytes). Columns of structs
 * or lists are decoded whole for every slice (hyparquet cannot start inside one), so a group whose nested
 * columns alone exceed `sliceBytes` is read whole. The file as a whole is never held. Strings are decoded
 * with a fatal UTF-8 decoder, so a non-UTF-8 value fails with its row and field instead of becoming U+FFFD.
 */
export async function* readParquetFile(path: string, options: ParquetReadOptions): AsyncGenerator<PositionedRecord> {
  const file = await asyncBufferFromFile(path).catch((err: unknown) => {
    throw fileAccessError(path, err);
  });
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    const why = await unreadableWhy(file).catch(() => undefined);
    throw new DatasetError(
      'invalid_argument',
      `not a readable Parquet file: ${path} (${why ?? messageOf(err)})`,
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
  const sliceBytes = options.sliceBytes ?? defaultSliceBytes;
  const nested = nestedColumns(metadata);
  const maxValueBytes = options.maxValueBytes ?? defaultMaxLineBytes;
  let groupStart = 0;
  for (const [groupIndex, group] of metadata.row_groups.entries()) {
    if (groupStart >= maxRecords) return;
    const groupRows = Number(group.num_rows);
    const rowEnd = Math.min(groupStart + groupRows, maxRecords);
    // Sliced, the group's column chunks are read once and kept until its last slice; whole, nothing is kept.
    const keeping = keepingReads(file);
    const ends = await sliceEnds(group, nested, sliceBytes, keeping).catch(() => [groupRows]);
    const source = ends.length > 1 ? keeping : file;
    for (const [sliceIndex, end] of ends.entries()) {
      const sliceStart = groupStart + (ends[sliceIndex - 1] ?? 0);
      if (sliceStart >= rowEnd) break;
      const utf8 = { sawInvalid: false, sawTooLarge: false, maxValueBytes };
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({
          file: source,
          metadata,
          rowStart: sliceStart,
          rowEnd: Math.min(groupStart + end, rowEnd),
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
          sliceStart + 1,
          { cause: err },
        );
      }
      // A dictionary entry no selected row uses can also be invalid, so look for the marker in the rows.
      if (utf8.sawTooLarge) {
        throwAtMarker(
          rows,
          path,
          sliceStart,
          tooLarge,
          (field) => `a value in field "${field}" is larger than ${maxValueBytes} bytes`,
        );
      }
      if (utf8.sawInvalid)
        throwAtMarker(rows, path, sliceStart, invalidUtf8, (field) => `invalid UTF-8 in field "${field}"`);
      for (let i = 0; i < rows.length; i++) {
        yield { position: sliceStart + i + 1, raw: rows[i]! };
      }
    }
    groupStart += groupRows;
  }
}

/** Top-level columns that are structs or lists: hyparquet decodes them whole, whatever rows are asked for. */
function nestedColumns(metadata: FileMetaData): ReadonlySet<string> {
  return new Set(
    parquetSchema(metadata)
      .children.filter((child) => child.children.length > 0 || child.element.repetition_type === 'REPEATED')
      .map((child) => child.element.name),
  );
}

/**
 * Where to cut `group` into slices, as row offsets from its start (the last is its row count). A group of at
 * most `sliceBytes` of uncompressed data is one slice, and so is one whose nested columns (decoded whole for
 * every slice) exceed `sliceBytes` alone, or one without flat columns. Otherwise the cuts fall between pages
 * of the largest flat column, whose page headers are read for that: hyparquet decodes a page whole even for
 * one of its rows, so a cut inside a page would decode it twice (DuckDB writes pages of ~100 MB). A slice
 * closes once that column's pages in it reach its share of `sliceBytes`.
 */
export async function sliceEnds(
  group: RowGroup,
  nested: ReadonlySet<string>,
  sliceBytes: number,
  file: AsyncBuffer,
): Promise<number[]> {
  const rows = Number(group.num_rows);
  let flatBytes = 0;
  let nestedBytes = 0;
  let largest: ColumnMetaData | undefined;
  for (const chunk of group.columns) {
    const meta = chunk.meta_data;
    if (!meta) return [rows];
    const bytes = Number(meta.total_uncompressed_size);
    if (nested.has(meta.path_in_schema[0] ?? '')) {
      nestedBytes += bytes;
    } else {
      flatBytes += bytes;
      if (largest === undefined || bytes > Number(largest.total_uncompressed_size)) largest = meta;
    }
  }
  if (flatBytes + nestedBytes <= sliceBytes || nestedBytes > sliceBytes || largest === undefined) return [rows];

  const share = sliceBytes * (Number(largest.total_uncompressed_size) / flatBytes);
  const start = Number(largest.dictionary_page_offset || largest.data_page_offset);
  const bytes = await file.slice(start, start + Number(largest.total_compressed_size));
  const reader = { view: new DataView(bytes), offset: 0 };
  const ends: number[] = [];
  let row = 0;
  let inSlice = 0;
  while (reader.offset < bytes.byteLength && row < rows) {
    const header = parquetHeader(reader);
    reader.offset += header.compressed_page_size;
    const pageRows = header.data_page_header_v2?.num_rows ?? header.data_page_header?.num_values;
    if (pageRows === undefined) continue;
    row += pageRows;
    inSlice += header.uncompressed_page_size;
    if (inSlice >= share) {
      ends.push(Math.min(row, rows));
      inSlice = 0;
    }
  }
  if (ends.at(-1) !== rows) ends.push(rows);
  return ends;
}

/**
 * `file`, keeping what it reads: the slices of one row group ask for the same column chunks, which are then
 * read from disk once. A fresh one per row group lets the previous group's bytes go.
 */
function keepingReads(file: AsyncBuffer): AsyncBuffer {
  const read = new Map<string, Awaitable<ArrayBuffer>>();
  return {
    byteLength: file.byteLength,
    slice(start, end) {
      const key = `${start}:${end}`;
      let bytes = read.get(key);
      if (bytes === undefined) {
        bytes = file.slice(start, end);
        read.set(key, bytes);
      }
      return bytes;
    },
  };
}

/**
 * What is wrong with a file whose footer did not parse, told from its first and last bytes (every Parquet
 * file starts and ends with "PAR1"), or undefined to keep hyparquet's own reason.
 */
async function unreadableWhy(file: AsyncBuffer): Promise<string | undefined> {
  const size = file.byteLength;
  if (size < 12) return `${size} bytes: too short for Parquet, which takes at least 12`;
  const head = new Uint8Array(await file.slice(0, 4));
  const tail = new Uint8Array(await file.slice(size - 4, size));
  const magic = (bytes: Uint8Array) => String.fromCharCode(...bytes);
  if (magic(head) === 'PAR1' && magic(tail) !== 'PAR1') {
    return 'it starts as Parquet but lacks the footer that ends every Parquet file: it was cut short, by an interrupted copy or a writer that did not finish; copy or write it again';
  }
  if (magic(tail) === 'PARE') return 'it is encrypted Parquet, which this reader cannot decrypt';
  if (magic(head) === 'PAR1') return undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed, not Parquet';
  if (head[0] === 0x7b || head[0] === 0x5b) return 'it does not start with PAR1 but with JSON: name it .jsonl';
  return 'it does not start with PAR1, as every Parquet file does';
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
