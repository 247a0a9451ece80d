import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTextParagraphs } from './index.js';
import { temporaryDirectory } from './test-files.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await temporaryDirectory());
});
afterEach(() => remove());

async function paragraphsOf(path: string, maxParagraphBytes?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const p of readTextParagraphs(path, maxParagraphBytes ? { maxParagraphBytes } : {})) out.push(p);
  return out;
}

describe('readTextParagraphs', () => {
  it('splits on blank lines, taking \\n, \\r\\n and a lone \\r as line breaks and a last line without one', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, '\n  \nOne paragraph\r\nwith two lines.\n\n\r\n\t\nSecond\rthird line\r\rLast one, é');
    expect(await paragraphsOf(path)).toEqual(['One paragraph\nwith two lines.', 'Second\nthird line', 'Last one, é']);
  });

  it('takes a \\r\\n split across two read chunks as one line break', async () => {
    const path = join(dir, 'chunked.txt');
    // The reader reads 1 MiB chunks: the \r is the chunk's last byte, the \n the next chunk's first.
    const first = 'a'.repeat(1024 * 1024 - 1);
    await writeFile(path, `${first}\r\nsecond line\n\nnext`);
    expect(await paragraphsOf(path)).toEqual([`${first}\nsecond line`, 'next']);
  });

  it('fails on a paragraph over the limit, naming the file, the line and where the paragraph starts', async () => {
    const path = join(dir, 'long.txt');
    await writeFile(path, `short\n\nfirst line\n${'x'.repeat(200)}\nmore\n`);
    await expect(paragraphsOf(path, 100)).rejects.toMatchObject({
      kind: 'invalid_argument',
      file: path,
      position: 4,
      message: `text longer than 100 bytes at ${path}:4 (in the paragraph starting at line 3); a plain-text file is read as paragraphs separated by blank lines: add blank lines or convert it to JSONL`,
    });
    // Many short lines without a blank one are one paragraph, held whole: the limit covers them too.
    // Ten 9-byte lines and their nine breaks are 99 bytes; the eleventh line passes the limit.
    await writeFile(path, 'nine byte\n'.repeat(20));
    await expect(paragraphsOf(path, 100)).rejects.toMatchObject({ position: 11 });
    await writeFile(path, 'nine byte\n'.repeat(10));
    expect(await paragraphsOf(path, 100)).toHaveLength(1);
  });

  it('fails on a 2 GiB file of one line with an error, not a crash', async () => {
    // `truncate -s 2G`: a sparse file of NUL bytes, no line break anywhere. readline grew one string from it
    // until V8 threw "Invalid string length" inside a stream callback, out of reach of any catch.
    const path = join(dir, 'big.txt');
    await writeFile(path, '');
    await truncate(path, 2 * 1024 * 1024 * 1024);
    await expect(paragraphsOf(path)).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringContaining(`text longer than 67108864 bytes at ${path}:1`),
    });
  });

  it('says a missing file is not found', async () => {
    await expect(paragraphsOf(join(dir, 'missing.txt'))).rejects.toMatchObject({ kind: 'not_found' });
  });
});
