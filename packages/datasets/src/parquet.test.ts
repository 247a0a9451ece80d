import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordWriter, readRecords } from './index.js';
import { readAll, temporaryDirectory } from './test-files.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await temporaryDirectory());
});
afterEach(() => remove());

async function writeParquet(path: string, records: Record<string, unknown>[], rowGroupRows?: number): Promise<void> {
  const writer = await createRecordWriter({ path, format: 'parquet', ...(rowGroupRows ? { rowGroupRows } : {}) });
  for (const record of records) await writer.write(record);
  await writer.close();
}

async function rowGroupSizes(path: string): Promise<number[]> {
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
  return metadata.row_groups.map((group) => Number(group.num_rows));
}

describe('Parquet round trip', () => {
  it('reads back what it wrote, field types included', async () => {
    const path = join(dir, 'kept.parquet');
    const records = [
      { id: 'a', text: 'hello', score: 1.5, n: 3, flag: true, meta: { lang: 'en' }, tags: ['x', 'y'], big: 7n },
      { id: 'b', text: 'wörld €', score: -2, n: 0, flag: false, meta: { lang: 'de' }, tags: [], big: 2n ** 60n },
      { id: 'c', text: '', score: null, n: 10, flag: null, meta: null, tags: ['z'], big: null },
    ];
    await writeParquet(path, records);
    const read = await readAll({ paths: [path], format: 'parquet', textField: 'text', idField: 'id' });
    expect(read.map((r) => r.raw)).toEqual(records);
    expect(read.map((r) => [r.index, r.id, r.text])).toEqual([
      [0, 'a', 'hello'],
      [1, 'b', 'wörld €'],
      [2, 'c', ''],
    ]);
  });

  it('writes one row group per rowGroupRows records and reads them all in order', async () => {
    const path = join(dir, 'groups.parquet');
    const records = Array.from({ length: 10 }, (_, i) => ({ id: i, text: `doc ${i}` }));
    await writeParquet(path, records, 4);
    expect(await rowGroupSizes(path)).toEqual([4, 4, 2]);
    const read = await readAll({ paths: [path], format: 'auto', textField: 'text', idField: 'id' });
    expect(read.map((r) => r.id)).toEqual(records.map((r) => String(r.id)));
  });

  it('closes a row group at rowGroupBytes of values before rowGroupRows records', async () => {
    const path = join(dir, 'long.parquet');
    const writer = await createRecordWriter({ path, format: 'parquet', rowGroupBytes: 10_000 });
    for (let i = 0; i < 50; i++) await writer.write({ id: i, text: `${i} ${'x'.repeat(1000)}` });
    // A JSONL line given with the record is its size.
    for (let i = 50; i < 60; i++) await writer.write({ id: i, text: `${i}` }, 'x'.repeat(5000));
    await writer.close();
    expect(await rowGroupSizes(path)).toEqual([10, 10, 10, 10, 10, 2, 2, 2, 2, 2]);
    const read = await readAll({ paths: [path], format: 'parquet', textField: 'text', idField: 'id' });
    expect(read.map((r) => r.id)).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
  });

  it('stops inside a row group at the limit', async () => {
    const path = join(dir, 'groups.parquet');
    await writeParquet(
      path,
      Array.from({ length: 10 }, (_, i) => ({ text: `doc ${i}` })),
      4,
    );
    const read = await readAll({ paths: [path], format: 'parquet', textField: 'text', limit: 6 });
    expect(read.map((r) => r.text)).toEqual(['doc 0', 'doc 1', 'doc 2', 'doc 3', 'doc 4', 'doc 5']);
  });

  it('reads a nested text field from a struct column written as JSON', async () => {
    const path = join(dir, 'nested.parquet');
    await writeParquet(path, [{ doc: { body: 'inside' } }]);
    const [record] = await readAll({ paths: [path], format: 'parquet', textField: 'doc.body' });
    expect(record?.text).toBe('inside');
  });

  it('writes a readable file with no records', async () => {
    const path = join(dir, 'empty.parquet');
    await writeParquet(path, []);
    expect(await readAll({ paths: [path], format: 'parquet', textField: 'text' })).toEqual([]);
  });

  it('reads GZIP-compressed Parquet through node:zlib', async () => {
    const path = join(dir, 'gzip.parquet');
    parquetWriteFile({
      filename: path,
      columnData: [{ name: 'text', data: ['one', 'two'], type: 'STRING' }],
      codec: 'GZIP',
      compressors: { GZIP: (input) => gzipSync(input) },
    });
    const read = await readAll({ paths: [path], format: 'parquet', textField: 'text' });
    expect(read.map((r) => r.text)).toEqual(['one', 'two']);
  });
});

describe('Parquet files written by other tools', () => {
  // Five rows (id BIGINT, text, lang) written by DuckDB 1.5; ZSTD is also Polars' default codec.
  const fixture = (name: string) => fileURLToPath(new URL(`../test-data/${name}`, import.meta.url));
  const expected = [0, 1, 2, 3, 4].map((i) => [String(i), `text ${i} süß`]);

  it.each([['duckdb-zstd.parquet'], ['duckdb-zstd-v2.parquet'], ['duckdb-lz4-raw.parquet']])(
    'reads %s, whatever this Node offers natively',
    async (name) => {
      const read = await readAll({ paths: [fixture(name)], format: 'parquet', textField: 'text', idField: 'id' });
      expect(read.map((r) => [r.id, r.text])).toEqual(expected);
      expect(read[4]?.raw).toEqual({ id: 4n, text: 'text 4 süß', lang: 'en' });
    },
  );
});

describe('Parquet reading errors', () => {
  it('names the missing text column and the columns there are', async () => {
    const path = join(dir, 'data.parquet');
    await writeParquet(path, [{ id: 'a', body: 'x' }]);
    await expect(readAll({ paths: [path], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `missing text column "text" in ${path} (columns: id, body)`,
    });
  });

  it('names the row of a record whose text is null or not a string', async () => {
    const path = join(dir, 'data.parquet');
    await writeParquet(path, [{ text: 'a' }, { text: 'b' }, { text: null }]);
    await expect(readAll({ paths: [path], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `text field "text" is null at ${path} row 3`,
      position: 3,
    });
    const numbers = join(dir, 'numbers.parquet');
    await writeParquet(numbers, [{ text: 1 }]);
    await expect(readAll({ paths: [numbers], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      message: `text field "text" is not a string (got number) at ${numbers} row 1`,
    });
  });

  it('refuses a string value over the size limit, naming its row and field', async () => {
    const path = join(dir, 'long-value.parquet');
    await writeParquet(path, [{ text: 'short' }, { text: 'x'.repeat(2000) }]);
    await expect(
      readAll({ paths: [path], format: 'parquet', textField: 'text', maxLineBytes: 1000 }),
    ).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `a value in field "text" is larger than 1000 bytes at ${path} row 2`,
    });
  });

  it('names the row and field of a string that is not UTF-8', async () => {
    const path = join(dir, 'bad-utf8.parquet');
    parquetWriteFile({
      filename: path,
      columnData: [
        { name: 'text', data: ['fine', 'also fine', 'fine again'], type: 'STRING' },
        {
          name: 'title',
          data: [new Uint8Array([0x61]), new Uint8Array([0x62]), new Uint8Array([0xc3, 0x28])],
          type: 'BYTE_ARRAY',
        },
      ],
    });
    await expect(readAll({ paths: [path], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `invalid UTF-8 in field "title" at ${path} row 3`,
    });
  });

  it('refuses a compression codec it cannot decode, naming it', async () => {
    const path = join(dir, 'lzo.parquet');
    parquetWriteFile({
      filename: path,
      columnData: [{ name: 'text', data: ['x'], type: 'STRING' }],
      codec: 'LZO',
      compressors: { LZO: (input) => input },
    });
    await expect(readAll({ paths: [path], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringContaining(`${path} is compressed with LZO, which this reader cannot decode`),
    });
  });

  it('says when a file is not Parquet at all, and what it looks like', async () => {
    const path = join(dir, 'fake.parquet');
    await writeFile(path, '{"text":"I am JSON"}\n');
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `not a readable Parquet file: ${path} (it does not start with PAR1 but with JSON: name it .jsonl)`,
    });
    await writeFile(path, gzipSync('{"text":"I am JSON"}\n'));
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      message: `not a readable Parquet file: ${path} (it is gzip-compressed, not Parquet)`,
    });
    await writeFile(path, 'PAR1');
    await expect(readAll({ paths: [path], format: 'auto', textField: 'text' })).rejects.toMatchObject({
      message: `not a readable Parquet file: ${path} (4 bytes: too short for Parquet, which takes at least 12)`,
    });
  });

  it('says when a Parquet file was cut short', async () => {
    const whole = join(dir, 'whole.parquet');
    await writeParquet(whole, [{ text: 'a' }, { text: 'b' }]);
    const path = join(dir, 'cut.parquet');
    const bytes = await readFile(whole);
    await writeFile(path, bytes.subarray(0, bytes.length - 30));
    await expect(readAll({ paths: [path], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `not a readable Parquet file: ${path} (it starts as Parquet but lacks the footer that ends every Parquet file: it was cut short, by an interrupted copy or a writer that did not finish; copy or write it again)`,
    });
  });

  it('reports a missing Parquet file as not_found', async () => {
    const path = join(dir, 'nope.parquet');
    await expect(readAll({ paths: [path], format: 'parquet', textField: 'text' })).rejects.toMatchObject({
      kind: 'not_found',
      message: `dataset file not found: ${path}`,
    });
  });
});

describe('Parquet writing', () => {
  it('refuses a later record whose field has another type than the first row group gave it', async () => {
    const path = join(dir, 'typed.parquet');
    const writer = await createRecordWriter({ path, format: 'parquet', rowGroupRows: 2 });
    await writer.write({ text: 'a', score: 1 });
    await writer.write({ text: 'b', score: 2 });
    await writer.write({ text: 'c', score: 'high' });
    await expect(writer.write({ text: 'd', score: 4 })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `cannot write record 3 to ${path}: field "score" holds a string but its Parquet column is DOUBLE, which the first row group fixed`,
    });
    await writer.abort();
  });

  it('refuses a later record with a field the schema lacks', async () => {
    const path = join(dir, 'fields.parquet');
    const writer = await createRecordWriter({ path, format: 'parquet', rowGroupRows: 1 });
    await writer.write({ text: 'a' });
    await expect(writer.write({ text: 'b', extra: true })).rejects.toMatchObject({
      message: expect.stringContaining(`cannot write record 2 to ${path}: field "extra" is not in the Parquet schema`),
    });
    await writer.abort();
  });

  it('types a field that mixes kinds of value as JSON, keeping every value', async () => {
    const path = join(dir, 'mixed.parquet');
    const records = [
      { text: 'a', value: 1 },
      { text: 'b', value: 'one' },
      { text: 'c', value: [1] },
    ];
    await writeParquet(path, records);
    const read = [];
    for await (const record of readRecords({ paths: [path], format: 'parquet', textField: 'text' }))
      read.push(record.raw);
    expect(read).toEqual(records);
  });
});
