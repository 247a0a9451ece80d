import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { ByteWriter, type ColumnSource, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import { DatasetError } from './dataset-error.js';
import { typeName } from './dataset-record.js';
import type { RecordWriter } from './record-writer.js';

/** Records per Parquet row group unless told otherwise: small enough to buffer, large enough to compress well. */
export const defaultRowGroupRows = 10_000;

/**
 * Characters of values buffered for one row group unless told otherwise: the row group is written once its
 * records reach this size even before `defaultRowGroupRows`, so 10,000 long documents are not all held (10,000
 * records of 110 KB took 2.4 GB of memory to write).
 */
export const defaultRowGroupBytes = 64 * 1024 * 1024;

/** Parquet column types this writer chooses among; anything else (objects, arrays, mixed types) is JSON. */
type ColumnType = 'STRING' | 'DOUBLE' | 'INT64' | 'BOOLEAN' | 'TIMESTAMP' | 'BYTE_ARRAY' | 'JSON';

interface Column {
  name: string;
  type: ColumnType;
}

/**
 * Opens a Parquet writer on `temporaryPath`, renamed to `path` on close.
 *
 * Records are buffered and written one row group at a time, a row group closing at `rowGroupRows` records or
 * once they hold about `rowGroupBytes` characters of values (the JSONL line's length where one is given,
 * otherwise strings' lengths, bytes' sizes and 8 per other value), so memory is that plus one encoded row
 * group, whatever the file's size. The schema is inferred from the first row group: strings
 * become STRING, numbers DOUBLE (exact for every JSON number), bigints INT64, booleans BOOLEAN, dates
 * TIMESTAMP (ms), bytes BYTE_ARRAY, and objects, arrays, all-null and mixed-type fields JSON. A later record
 * with a field the schema lacks, or a value of another type, fails with a DatasetError naming it.
 */
export async function openParquetWriter(
  path: string,
  temporaryPath: string,
  rowGroupRows: number,
  rowGroupBytes = defaultRowGroupBytes,
): Promise<RecordWriter> {
  if (!(Number.isSafeInteger(rowGroupRows) && rowGroupRows > 0)) {
    throw new DatasetError('invalid_argument', `rowGroupRows must be a positive integer, got ${rowGroupRows}`);
  }
  if (!(Number.isSafeInteger(rowGroupBytes) && rowGroupBytes > 0)) {
    throw new DatasetError('invalid_argument', `rowGroupBytes must be a positive integer, got ${rowGroupBytes}`);
  }
  const handle = await open(temporaryPath, 'wx');
  return new ParquetRecordWriter(path, temporaryPath, handle, rowGroupRows, rowGroupBytes);
}

/** hyparquet-writer's byte buffer, emptied into the file after each row group (the library awaits `flush`). */
class FileSink extends ByteWriter {
  constructor(private readonly handle: FileHandle) {
    super(1024 * 1024);
  }

  async flush(): Promise<void> {
    const bytes = new Uint8Array(this.buffer, 0, this.index);
    let written = 0;
    while (written < bytes.length) {
      written += (await this.handle.write(bytes, written)).bytesWritten;
    }
    this.index = 0;
  }

  override finish(): Promise<void> {
    return this.flush();
  }
}

class ParquetRecordWriter implements RecordWriter {
  count = 0;
  private rows: Record<string, unknown>[] = [];
  /** Approximate size of `rows`, in characters. */
  private rowsSize = 0;
  private columns: Column[] | undefined;
  private writer: ParquetWriter | undefined;
  private readonly sink: FileSink;
  private failure: unknown;
  private state: 'open' | 'closed' | 'aborted' = 'open';

  constructor(
    readonly path: string,
    private readonly temporaryPath: string,
    private readonly handle: FileHandle,
    private readonly rowGroupRows: number,
    private readonly rowGroupBytes: number,
  ) {
    this.sink = new FileSink(handle);
  }

  async write(raw: Record<string, unknown>, line?: string): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.state !== 'open') throw new Error(`record writer for ${this.path} is ${this.state}`);
    this.rows.push(raw);
    this.rowsSize += line?.length ?? sizeOf(raw);
    this.count += 1;
    if (this.rows.length >= this.rowGroupRows || this.rowsSize >= this.rowGroupBytes) await this.writeRowGroup();
  }

  async close(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.state !== 'open') throw new Error(`record writer for ${this.path} is ${this.state}`);
    this.state = 'closed';
    try {
      await this.writeRowGroup();
      await this.writer!.finish();
      await this.handle.close();
      await rename(this.temporaryPath, this.path);
    } catch (err) {
      await this.handle.close().catch(() => {});
      await rm(this.temporaryPath, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'aborted';
    this.rows = [];
    await this.handle.close().catch(() => {});
    await rm(this.temporaryPath, { force: true });
  }

  /** Writes the buffered records as one row group; the first call also fixes the schema. */
  private async writeRowGroup(): Promise<void> {
    const rows = this.rows;
    this.rows = [];
    this.rowsSize = 0;
    try {
      if (this.columns === undefined) {
        this.columns = inferColumns(rows);
        const schema = schemaFromColumnData({
          columnData: this.columns.map(({ name, type }) => ({ name, type, data: [] })),
        });
        this.writer = new ParquetWriter({ writer: this.sink, schema });
      }
      if (rows.length === 0) return;
      const columnData = toColumnData(this.columns, rows, this.count - rows.length + 1, this.path);
      await this.writer!.write({ columnData, rowGroupSize: rows.length });
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }
}

/** Rough size of a record's values in characters: what buffering it costs, give or take a factor of two. */
function sizeOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value === null || typeof value !== 'object' || value instanceof Date) return 8;
  let size = 8;
  for (const child of Array.isArray(value) ? value : Object.values(value)) size += sizeOf(child);
  return size;
}

function typeOf(value: unknown): ColumnType | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'string':
      return 'STRING';
    case 'number':
      return 'DOUBLE';
    case 'bigint':
      return 'INT64';
    case 'boolean':
      return 'BOOLEAN';
  }
  if (value instanceof Date) return 'TIMESTAMP';
  if (value instanceof Uint8Array) return 'BYTE_ARRAY';
  return 'JSON';
}

/** Columns in first-seen field order, each typed by the values it holds in `rows`. */
function inferColumns(rows: readonly Record<string, unknown>[]): Column[] {
  const types = new Map<string, ColumnType | undefined>();
  for (const row of rows) {
    for (const [name, value] of Object.entries(row)) {
      const type = typeOf(value);
      const seen = types.get(name);
      if (!types.has(name) || seen === undefined) types.set(name, type);
      else if (type !== undefined && type !== seen) types.set(name, 'JSON');
    }
  }
  return [...types].map(([name, type]) => ({ name, type: type ?? 'JSON' }));
}

/** The column's value for `value`, or undefined when it does not fit the column's type. */
function columnValue(value: unknown, type: ColumnType): unknown {
  if (value === null || value === undefined || type === 'JSON') return value ?? null;
  if (type === 'INT64' && typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return typeOf(value) === type ? value : undefined;
}

function toColumnData(
  columns: readonly Column[],
  rows: readonly Record<string, unknown>[],
  firstRecord: number,
  path: string,
): ColumnSource[] {
  const known = new Set(columns.map((column) => column.name));
  const columnData = columns.map(({ name, type }) => ({ name, type, data: new Array<unknown>(rows.length) }));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (const key of Object.keys(row)) {
      if (!known.has(key) && row[key] !== null && row[key] !== undefined) {
        throw new DatasetError(
          'invalid_argument',
          `cannot write record ${firstRecord + i} to ${path}: field "${key}" is not in the Parquet schema, which the first row group fixed; give every record the same fields or write JSONL`,
          path,
          firstRecord + i,
        );
      }
    }
    for (const column of columnData) {
      const value = row[column.name];
      const converted = columnValue(value, column.type);
      if (converted === undefined) {
        throw new DatasetError(
          'invalid_argument',
          `cannot write record ${firstRecord + i} to ${path}: field "${column.name}" holds a ${typeName(value)} but its Parquet column is ${column.type}, which the first row group fixed`,
          path,
          firstRecord + i,
        );
      }
      column.data[i] = converted;
    }
  }
  return columnData;
}
