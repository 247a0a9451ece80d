import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFromExtension, listDatasetFiles } from './dataset-files.js';

describe('formatFromExtension', () => {
  it('maps each known extension to its format, ignoring case', () => {
    expect(formatFromExtension('a/b.jsonl')).toBe('jsonl');
    expect(formatFromExtension('b.JSON')).toBe('jsonl');
    expect(formatFromExtension('b.jsonl.gz')).toBe('jsonl-gzip');
    expect(formatFromExtension('b.json.GZ')).toBe('jsonl-gzip');
    expect(formatFromExtension('b.parquet')).toBe('parquet');
  });

  it('knows nothing of other extensions', () => {
    expect(formatFromExtension('b.csv')).toBeUndefined();
    expect(formatFromExtension('b.gz')).toBeUndefined();
    expect(formatFromExtension('parquet')).toBeUndefined();
  });
});

describe('listDatasetFiles', () => {
  it('refuses a FIFO or a device instead of blocking on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sift-files-'));
    try {
      const fifo = join(dir, 'stream.jsonl');
      execFileSync('mkfifo', [fifo]);
      for (const path of [fifo, '/dev/zero']) {
        await expect(listDatasetFiles([path], 'jsonl')).rejects.toMatchObject({
          kind: 'invalid_argument',
          message: `${path} is not a regular file (a FIFO, device or socket); name a file or a folder of files`,
        });
      }
      writeFileSync(join(dir, 'ok.jsonl'), '{}\n');
      await expect(listDatasetFiles([join(dir, 'ok.jsonl')], 'auto')).resolves.toEqual([
        { path: join(dir, 'ok.jsonl'), format: 'jsonl' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers a path too long for the file system, or a symbolic-link loop, as a bad argument, not an internal error', async () => {
    const long = `/tmp/${'a'.repeat(100_000)}.jsonl`;
    await expect(listDatasetFiles([long], 'auto')).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `path too long for the file system (${long.length} characters): ${long.slice(0, 200)}…`,
    });
    const dir = mkdtempSync(join(tmpdir(), 'sift-files-'));
    try {
      symlinkSync(join(dir, 'b.jsonl'), join(dir, 'a.jsonl'));
      symlinkSync(join(dir, 'a.jsonl'), join(dir, 'b.jsonl'));
      await expect(listDatasetFiles([join(dir, 'a.jsonl')], 'auto')).rejects.toMatchObject({
        kind: 'invalid_argument',
        message: `${join(dir, 'a.jsonl')} is a loop of symbolic links`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
