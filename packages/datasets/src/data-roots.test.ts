import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataRoots } from './data-roots.js';

const base = mkdtempSync(join(tmpdir(), 'sift-roots-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
mkdirSync(join(base, 'data'));
mkdirSync(join(base, 'secret'));
writeFileSync(join(base, 'data', 'c4.jsonl'), '{}\n');
writeFileSync(join(base, 'secret', 'key.txt'), 'k');
symlinkSync(join(base, 'secret'), join(base, 'data', 'link'));

describe('DataRoots', () => {
  const roots = DataRoots.parse(` ${join(base, 'data')} ,`);

  it('allows files and not-yet-existing outputs inside a root', async () => {
    await roots.check(join(base, 'data', 'c4.jsonl'), 'dataset.paths[0]');
    await roots.check(join(base, 'data', 'out', 'run-1'), 'output.path');
    await roots.check(join(base, 'data'), 'dataset.paths[0]');
  });

  it('denies paths outside, whether plainly, through .. or through a symlink', async () => {
    for (const path of [
      join(base, 'secret', 'key.txt'),
      join(base, 'data', '..', 'secret', 'key.txt'),
      join(base, 'data', 'link', 'key.txt'),
      '/etc/passwd',
    ]) {
      await expect(roots.check(path, 'calibration.texts.dataset.path')).rejects.toMatchObject({
        kind: 'permission_denied',
        message: expect.stringContaining('calibration.texts.dataset.path'),
      });
    }
  });

  it('refuses, at start, a configured root that is missing or not a folder', async () => {
    await roots.checkExist('SIFT_DATA_ROOTS');
    await expect(
      DataRoots.parse(`${join(base, 'data')},${join(base, 'dtaa')}`).checkExist('SIFT_DATA_ROOTS'),
    ).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `SIFT_DATA_ROOTS names ${join(base, 'dtaa')}, which is missing; list existing folders, comma-separated`,
    });
    await expect(DataRoots.parse(join(base, 'data', 'c4.jsonl')).checkExist('SIFT_DATA_ROOTS')).rejects.toThrow(
      'which is not a folder',
    );
  });

  it('allows anything when no root is configured', async () => {
    await DataRoots.parse('').check('/etc/passwd', 'x');
  });
});
