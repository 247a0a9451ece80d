import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordWriter } from './index.js';
import { readAll, temporaryDirectory } from './test-files.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await temporaryDirectory());
});
afterEach(() => remove());

describe('createRecordWriter', () => {
  it('writes JSONL one record per line and shows the file only once closed', async () => {
    const path = join(dir, 'kept.jsonl');
    const writer = await createRecordWriter({ path, format: 'auto' });
    await writer.write({ id: 'a', text: 'first' });
    await writer.write({ id: 'b', text: 'line\nbreak' });
    expect(await readdir(dir)).not.toContain('kept.jsonl');
    await writer.close();
    expect(writer.count).toBe(2);
    expect(await readdir(dir)).toEqual(['kept.jsonl']);
    expect(await readFile(path, 'utf8')).toBe('{"id":"a","text":"first"}\n{"id":"b","text":"line\\nbreak"}\n');
  });

  it('writes a record read from JSONL as its line, unchanged: numbers as written, spacing kept', async () => {
    const source = join(dir, 'in.jsonl');
    const lines = ['{"id": 12345678901234567891, "text": "a", "score": 1.0}', '{"text":"b","x":[1e2, -0.0]}'];
    await writeFile(source, `${lines.join('\n')}\n`);
    const path = join(dir, 'kept.jsonl');
    const writer = await createRecordWriter({ path, format: 'auto' });
    for (const r of await readAll({ paths: [source], format: 'auto', textField: 'text' }))
      await writer.write(r.raw, r.line);
    await writer.close();
    expect(await readFile(path, 'utf8')).toBe(`${lines.join('\n')}\n`);
  });

  it('gzips when the extension says so, and the reader reads it back', async () => {
    const path = join(dir, 'kept.jsonl.gz');
    const writer = await createRecordWriter({ path, format: 'auto' });
    await writer.write({ text: 'zipped' });
    await writer.close();
    const bytes = await readFile(path);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(bytes).toString('utf8')).toBe('{"text":"zipped"}\n');
    const records = await readAll({ paths: [path], format: 'auto', textField: 'text' });
    expect(records.map((r) => r.text)).toEqual(['zipped']);
  });

  it('writes bigints as numbers when exact and as strings otherwise, bytes as base64, dates as ISO', async () => {
    const path = join(dir, 'values.jsonl');
    const writer = await createRecordWriter({ path, format: 'jsonl' });
    await writer.write({
      small: 42n,
      huge: 2n ** 70n,
      bytes: new Uint8Array([1, 2, 3]),
      at: new Date(Date.UTC(2024, 0, 2)),
    });
    await writer.close();
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      small: 42,
      huge: '1180591620717411303424',
      bytes: 'AQID',
      at: '2024-01-02T00:00:00.000Z',
    });
  });

  it('creates the parent directory', async () => {
    const path = join(dir, 'out', 'deeper', 'kept.parquet');
    const writer = await createRecordWriter({ path, format: 'auto' });
    await writer.write({ text: 'x' });
    await writer.close();
    expect(await readdir(join(dir, 'out', 'deeper'))).toEqual(['kept.parquet']);
  });

  it('leaves nothing behind when aborted', async () => {
    for (const name of ['gone.jsonl', 'gone.jsonl.gz', 'gone.parquet']) {
      const writer = await createRecordWriter({ path: join(dir, name), format: 'auto' });
      await writer.write({ text: 'never kept' });
      await writer.abort();
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses writes after close', async () => {
    const writer = await createRecordWriter({ path: join(dir, 'a.jsonl'), format: 'auto' });
    await writer.close();
    await expect(writer.write({ text: 'late' })).rejects.toThrow(`record writer for ${join(dir, 'a.jsonl')} is closed`);
  });

  it('replaces an earlier file at the path', async () => {
    const path = join(dir, 'kept.jsonl');
    for (const text of ['old', 'new']) {
      const writer = await createRecordWriter({ path, format: 'jsonl' });
      await writer.write({ text });
      await writer.close();
    }
    expect(await readFile(path, 'utf8')).toBe('{"text":"new"}\n');
  });

  it('needs a known extension when the format is auto', async () => {
    const path = join(dir, 'kept.csv');
    await expect(createRecordWriter({ path, format: 'auto' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringContaining(`cannot infer the format of ${path}`),
    });
  });

  it('waits for the disk under backpressure without losing records', async () => {
    const path = join(dir, 'many.jsonl.gz');
    const writer = await createRecordWriter({ path, format: 'auto' });
    const text = 'x'.repeat(1000);
    for (let i = 0; i < 5000; i++) await writer.write({ id: i, text });
    await writer.close();
    const records = await readAll({ paths: [path], format: 'auto', textField: 'text', idField: 'id' });
    expect(records).toHaveLength(5000);
    expect(records[4999]?.id).toBe('4999');
  });
});
