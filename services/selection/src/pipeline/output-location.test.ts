import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputClaim, checkOutputLocation, claimOutput, releaseOutput } from './output-location.js';

const root = mkdtempSync(join(tmpdir(), 'sift-output-location-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const corpusDir = join(root, 'corpus');
const corpus = join(corpusDir, 'part-0.jsonl');
mkdirSync(corpusDir);
writeFileSync(corpus, '{"text": "a"}\n');
const output = (path: string, overwrite = false) => ({
  path,
  format: 0,
  writeDropped: false,
  overwrite,
  allowEmpty: false,
});
const check = (out: ReturnType<typeof output>, saves: { path: string; field: string }[] = [], paths = [corpus]) =>
  checkOutputLocation(paths, [corpus], out, saves);

describe('checkOutputLocation', () => {
  it('accepts a new or empty folder, and a used one only with overwrite', async () => {
    await expect(check(output(join(root, 'new', 'out')))).resolves.toBeUndefined();
    const used = join(root, 'used');
    mkdirSync(used);
    await expect(check(output(used))).resolves.toBeUndefined();
    writeFileSync(join(used, 'report.md'), '# earlier job');
    await expect(check(output(used))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('is not empty (report.md); choose an empty folder or set output.overwrite'),
    });
    await expect(check(output(used, true))).resolves.toBeUndefined();
  });

  it('refuses outputs that would replace or join the dataset, also through a symlink', async () => {
    await expect(check(output(corpusDir, true))).rejects.toThrow(/holds the dataset file .*part-0\.jsonl/);
    await expect(check(output(join(corpusDir, 'curated')), [], [corpusDir])).rejects.toThrow(
      /is inside the dataset folder dataset\.paths\[0\]/,
    );
    const link = join(root, 'link-to-corpus');
    symlinkSync(corpusDir, link);
    await expect(check(output(link, true))).rejects.toThrow(/holds the dataset file/);
    await expect(check(output(corpus))).rejects.toThrow(/is a file; name a folder/);
  });

  it('refuses an index saved over a dataset file, a folder or an output file', async () => {
    const out = join(root, 'out-index');
    const field = 'steps[0].index.save_path';
    await expect(check(output(out), [{ path: corpus, field }])).rejects.toThrow(`${field} ${corpus} is a dataset file`);
    await expect(check(output(out), [{ path: corpusDir, field }])).rejects.toThrow(/is a folder/);
    await expect(check(output(out), [{ path: join(out, 'kept.jsonl'), field }])).rejects.toThrow(
      /is one of the job's output files/,
    );
    await expect(check(output(out), [{ path: join(out, 'minhash.index'), field }])).resolves.toBeUndefined();
  });

  it('reserves an output folder for the job that named it first', async () => {
    const shared = join(root, 'claimed');
    await claimOutput(output(shared), 'job-a');
    await expect(check(output(shared))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('is the output folder of job job-a'),
    });
    await expect(claimOutput(output(shared), 'job-b')).rejects.toMatchObject({ kind: 'failed_precondition' });
    await expect(checkOutputClaim(output(shared), 'job-a')).resolves.toBeUndefined();
    // A later job that asks to overwrite takes the folder; the first then refuses to write into it.
    await claimOutput(output(shared, true), 'job-b');
    await expect(checkOutputClaim(output(shared), 'job-a')).rejects.toThrow(/claimed by job job-b/);
    // A job that was not queued gives its claim up (only its own), and the folder is free again.
    await releaseOutput(output(shared), 'job-a');
    await expect(check(output(shared))).rejects.toThrow(/output folder of job job-b/);
    await releaseOutput(output(shared), 'job-b');
    await expect(check(output(shared))).resolves.toBeUndefined();
  });
});
