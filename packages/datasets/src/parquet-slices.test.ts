import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PositionedRecord } from './jsonl-reader.js';
import { readParquetFile, sliceEnds } from './parquet-reader.js';
import { temporaryDirectory } from './test-files.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await temporaryDirectory());
});
afterEach(() => remove());

/** One row group of `rows` rows whose ~1 KB texts fill pages of about `pageSize` bytes. */
function writeOneGroup(path: string, rows: number, pageSize: number, texts?: (string | null)[]): void {
  parquetWriteFile({
    filename: path,
    columnData: [
      { name: 'id', data: Array.from({ length: rows }, (_, i) => BigInt(i)), type: 'INT64' },
      {
        name: 'text',
        data: texts ?? Array.from({ length: rows }, (_, i) => `doc ${i} ${'x'.repeat(1000)}`),
        type: 'STRING',
      },
    ],
    rowGroupSize: rows,
    pageSize,
  });
}

async function readAllRows(path: string, sliceBytes?: number, maxRecords?: number): Promise<PositionedRecord[]> {
  const rows: PositionedRecord[] = [];
  const options = {
    fields: { textField: 'text', idField: 'id' },
    ...(sliceBytes ? { sliceBytes } : {}),
    ...(maxRecords ? { maxRecords } : {}),
  };
  for await (const row of readParquetFile(path, options)) rows.push(row);
  return rows;
}

describe('Parquet row groups larger than a slice', () => {
  it('cuts a large row group between pages of its largest column, into slices of about sliceBytes', async () => {
    const path = join(dir, 'one-group.parquet');
    writeOneGroup(path, 2000, 16 * 1024);
    const file = await asyncBufferFromFile(path);
    const [group] = (await parquetMetadataAsync(file)).row_groups;
    const ends = await sliceEnds(group!, new Set(), 256 * 1024, file);
    // ~2 MB of text in 16 KB pages of ~16 rows: slices of ~16 pages, each ending where a page does.
    expect(ends.length).toBeGreaterThan(5);
    expect(ends.at(-1)).toBe(2000);
    const sizes = ends.map((end, i) => end - (ends[i - 1] ?? 0));
    expect(Math.max(...sizes.slice(0, -1)) - Math.min(...sizes.slice(0, -1))).toBeLessThan(40);
    // Not sliced: a group within sliceBytes, and one whose nested columns alone exceed it.
    expect(await sliceEnds(group!, new Set(), 64 * 1024 * 1024, file)).toEqual([2000]);
    expect(await sliceEnds(group!, new Set(['text']), 256 * 1024, file)).toEqual([2000]);
  });

  it('reads a sliced row group as it reads it whole: rows, order, positions, limit', async () => {
    const path = join(dir, 'one-group.parquet');
    writeOneGroup(path, 2000, 16 * 1024);
    const whole = await readAllRows(path);
    const sliced = await readAllRows(path, 256 * 1024);
    expect(sliced).toHaveLength(2000);
    expect(sliced).toEqual(whole);
    expect(sliced[1234]).toMatchObject({ position: 1235, raw: { id: 1234n } });
    const limited = await readAllRows(path, 256 * 1024, 777);
    expect(limited.map((row) => row.position)).toEqual(Array.from({ length: 777 }, (_, i) => i + 1));
  });

  it('names the row of a bad value in a later slice', async () => {
    const path = join(dir, 'one-group.parquet');
    const texts = Array.from({ length: 2000 }, (_, i) => `doc ${i} ${'x'.repeat(1000)}`);
    texts[1500] = 'y'.repeat(5000);
    writeOneGroup(path, 2000, 16 * 1024, texts);
    const rows: PositionedRecord[] = [];
    const reading = (async () => {
      const options = { fields: { textField: 'text' }, sliceBytes: 256 * 1024, maxValueBytes: 4000 };
      for await (const row of readParquetFile(path, options)) rows.push(row);
    })();
    await expect(reading).rejects.toMatchObject({
      message: `a value in field "text" is larger than 4000 bytes at ${path} row 1501`,
      position: 1501,
    });
    // Slices before the bad one were handed out: the reader did not decode the whole group first.
    expect(rows.length).toBeGreaterThan(1000);
    expect(rows.length).toBeLessThan(1500);
  });
});
