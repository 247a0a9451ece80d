import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRecordWriter } from '@sift/datasets';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCorpus, loadCorpus } from './text-corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inline = (texts: string[]) => ({ source: { $case: 'inline' as const, value: { texts } } });
const dataset = (path: string, textField = '', limit = 0) => ({
  source: { $case: 'dataset' as const, value: { path, textField, limit } },
});

describe('text corpora for calibration and evaluation', () => {
  it('takes inline texts and names a missing or empty one', async () => {
    await expect(loadCorpus(inline(['a', 'b']), 'x')).resolves.toEqual(['a', 'b']);
    await expect(checkCorpus(undefined, 'calibration.texts')).rejects.toThrow(/texts are required/);
    await expect(checkCorpus(inline([]), 'calibration.texts')).rejects.toThrow(/at least one/);
    await expect(checkCorpus(inline(['a', '']), 'calibration.texts')).rejects.toThrow(
      /calibration\.texts\.inline\.texts\[1\] is empty/,
    );
  });

  it('reads the text field of JSONL (plain and gzip) and Parquet, skipping empty texts, up to the limit', async () => {
    const rows = [{ doc: { body: 'first text' } }, { doc: { body: '' } }, { doc: { body: 'second text' } }];
    const jsonl = `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
    writeFileSync(join(dir, 'c.jsonl'), jsonl);
    writeFileSync(join(dir, 'c.jsonl.gz'), gzipSync(jsonl));
    const writer = await createRecordWriter({ path: join(dir, 'c.parquet'), format: 'parquet' });
    for (const r of [{ text: 'parquet one' }, { text: 'parquet two' }]) await writer.write(r);
    await writer.close();
    await expect(loadCorpus(dataset(join(dir, 'c.jsonl'), 'doc.body'), 'x')).resolves.toEqual([
      'first text',
      'second text',
    ]);
    await expect(loadCorpus(dataset(join(dir, 'c.jsonl.gz'), 'doc.body', 1), 'x')).resolves.toEqual(['first text']);
    await expect(loadCorpus(dataset(join(dir, 'c.parquet'), 'text'), 'x')).resolves.toEqual([
      'parquet one',
      'parquet two',
    ]);
  });

  it('splits any other file into paragraphs on blank lines', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'One paragraph\nwith two lines.\n\n\r\nAnother one.\n');
    await expect(loadCorpus(dataset(join(dir, 'notes.txt')), 'x')).resolves.toEqual([
      'One paragraph\nwith two lines.',
      'Another one.',
    ]);
  });

  it('fails on a plain-text file of one 2 GiB line, naming the file and line, instead of crashing', async () => {
    const path = join(dir, 'big.txt');
    writeFileSync(path, '');
    truncateSync(path, 2 * 1024 * 1024 * 1024); // sparse: NUL bytes and no line break
    await expect(loadCorpus(dataset(path), 'calibration.texts')).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringContaining(`text longer than 67108864 bytes at ${path}:1`),
    });
    rmSync(path);
  });

  it("refuses a relative path, which would resolve against the service's working directory", async () => {
    for (const path of ['README.md', './notes.txt', '../etc/passwd']) {
      await expect(checkCorpus(dataset(path), 'spec.calibration.texts')).rejects.toMatchObject({
        kind: 'invalid_argument',
        message: `spec.calibration.texts.dataset.path must be an absolute path on the service's machine, got "${path}"`,
      });
    }
  });

  it('refuses a FIFO or a device, whose reading would block or never end, naming the field', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    for (const [path, textField] of [
      [fifo, ''],
      [fifo, 'text'],
      ['/dev/zero', ''],
    ] as const) {
      await expect(checkCorpus(dataset(path, textField), 'spec.evaluation.texts')).rejects.toMatchObject({
        kind: 'invalid_argument',
        message: `spec.evaluation.texts.dataset.path: ${path} is not a regular file (a FIFO, device or socket); name a file or a folder of files`,
      });
    }
  });

  it('tells a gzip file named .jsonl to be renamed, without a format field pruning does not have', async () => {
    const path = join(dir, 'packed.jsonl');
    writeFileSync(path, gzipSync('{"text":"hello"}\n'));
    await expect(loadCorpus(dataset(path, 'text'), 'x')).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `invalid UTF-8 at ${path}:1 (the file is gzip-compressed: name it .jsonl.gz)`,
    });
  });

  it('says what is wrong with a dataset before reading it', async () => {
    await expect(checkCorpus(dataset(''), 'evaluation.texts')).rejects.toThrow(/evaluation\.texts\.dataset\.path/);
    await expect(checkCorpus(dataset(join(dir, 'missing.jsonl'), 'text'), 'x')).rejects.toMatchObject({
      kind: 'not_found',
      message: `x.dataset.path: dataset file not found: ${join(dir, 'missing.jsonl')}`,
    });
    await expect(checkCorpus(dataset(join(dir, 'c.jsonl')), 'calibration.texts')).rejects.toThrow(
      /calibration\.texts\.dataset\.text_field is required/,
    );
    writeFileSync(join(dir, 'blank.txt'), '\n\n   \n');
    await expect(loadCorpus(dataset(join(dir, 'blank.txt')), 'x')).rejects.toThrow(/holds no non-empty text/);
    await expect(loadCorpus(dataset(join(dir, 'c.jsonl'), 'nope'), 'x')).rejects.toMatchObject({
      kind: 'invalid_argument',
    });
  });
});
