import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruningV1 } from '@sift/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { FileJobStore } from './file-job-store.js';

const base = mkdtempSync(join(tmpdir(), 'sift-store-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('FileJobStore.checkWritable', () => {
  it('creates the job folder and leaves nothing behind', async () => {
    const root = join(base, 'data', 'jobs');
    await new FileJobStore<pruningV1.Job>(root, pruningV1.Job, 'pruning').checkWritable('SIFT_PRUNING_DATA_DIR');
    expect(existsSync(root)).toBe(true);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses a folder it cannot create, naming the setting to change', async () => {
    // A path below a regular file cannot be created, even by root (file modes would not stop root).
    writeFileSync(join(base, 'a-file'), '');
    const root = join(base, 'a-file', 'jobs');
    await expect(
      new FileJobStore<pruningV1.Job>(root, pruningV1.Job, 'pruning').checkWritable('SIFT_PRUNING_DATA_DIR'),
    ).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `the job folder ${root} is not writable (ENOTDIR); set SIFT_PRUNING_DATA_DIR to a folder this service may write`,
    });
  });
});
