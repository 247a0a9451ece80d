import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveExactIndex } from '../adapters/dedup-index-files.js';
import { exactDedup, exactIndexOf } from '../domain/index.js';
import {
  checkOutputClaim,
  checkOutputLocation,
  claimOutput,
  releaseOutput,
  type ServiceFolder,
  serviceFolders,
} from './output-location.js';

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
const dataDir = join(root, 'service', 'data');
const modelsDir = join(root, 'service', 'models');
mkdirSync(join(dataDir, 'jobs', 'job-a'), { recursive: true });
mkdirSync(join(modelsDir, 'glove-sif-100d', '1'), { recursive: true });
const own: ServiceFolder[] = serviceFolders({ dataDir, modelsDir });
const check = (out: ReturnType<typeof output>, saves: { path: string; field: string }[] = [], paths = [corpus]) =>
  checkOutputLocation({
    datasetPaths: paths,
    datasetFiles: [corpus],
    output: out,
    indexSaves: saves,
    serviceFolders: own,
  });
const field = 'steps[0].index.save_path';

describe('checkOutputLocation', () => {
  it('accepts a new or empty folder, and a used one only with overwrite', async () => {
    await expect(check(output(join(root, 'new', 'out')))).resolves.toBeUndefined();
    const used = join(root, 'used');
    mkdirSync(used);
    await expect(check(output(used))).resolves.toBeUndefined();
    writeFileSync(join(used, 'report.md'), '# earlier job');
    await expect(check(output(used))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('is not empty (report.md); choose an empty folder, or set output.overwrite'),
    });
    await expect(check(output(used, true))).resolves.toBeUndefined();
  });

  it("overwrites only a folder that holds nothing but a job's outputs, claim, temporary files and indexes", async () => {
    const earlier = join(root, 'earlier-job');
    mkdirSync(earlier);
    const outputs = [
      'kept.parquet',
      'dropped.parquet',
      'invalid.jsonl',
      'dropped.jsonl.gz',
      'decisions.jsonl',
      'report.json',
      'report.md',
    ];
    for (const f of [...outputs, '.sift-job']) {
      writeFileSync(join(earlier, f), 'x');
    }
    writeFileSync(join(earlier, '.kept.parquet.4242-0a1b2c3d.partial'), 'x');
    await saveExactIndex(join(earlier, 'exact.idx'), exactIndexOf(exactDedup(['a']), ['1']));
    await expect(check(output(earlier, true))).resolves.toBeUndefined();
    const refusal = (name: string) =>
      expect.objectContaining({
        kind: 'failed_precondition',
        message: expect.stringContaining(`holds ${name}, which no selection job writes; output.overwrite only`),
      });
    // Anything else: a file of its own, a folder, a link (a report would be written through it).
    writeFileSync(join(earlier, 'notes.txt'), 'mine');
    await expect(check(output(earlier, true))).rejects.toEqual(refusal('notes.txt'));
    rmSync(join(earlier, 'notes.txt'));
    mkdirSync(join(earlier, 'sub'));
    await expect(check(output(earlier, true))).rejects.toEqual(refusal('sub'));
    rmSync(join(earlier, 'sub'), { recursive: true });
    rmSync(join(earlier, 'report.md'));
    symlinkSync(join(root, 'elsewhere.md'), join(earlier, 'report.md'));
    await expect(check(output(earlier, true))).rejects.toEqual(refusal('report.md'));
    // Another service's job folder, and the root of the file system.
    const pruningJob = join(root, 'pruning', 'jobs', 'job-x');
    mkdirSync(pruningJob, { recursive: true });
    writeFileSync(join(pruningJob, 'job.json'), '{}');
    await expect(check(output(pruningJob, true))).rejects.toEqual(refusal('job.json'));
    await expect(check(output('/', true))).rejects.toMatchObject({ kind: 'failed_precondition' });
    await expect(check(output('/proc/self', true))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('which no selection job writes'),
    });
  });

  it("refuses outputs and indexes inside the service's data folder or the model store", async () => {
    const model = join(modelsDir, 'glove-sif-100d', '1');
    await expect(check(output(model, true))).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: `output.path ${model} is inside the model store (SIFT_MODELS_DIR: ${modelsDir}), which only the service writes; choose a folder of your own`,
    });
    await expect(check(output(join(dataDir, 'curated')))).rejects.toThrow(
      /is inside the service's data folder \(SIFT_SELECTION_DATA_DIR: /,
    );
    // Also through a link to it.
    const link = join(root, 'link-to-models');
    symlinkSync(modelsDir, link);
    await expect(check(output(join(link, 'new')))).rejects.toThrow(/is inside the model store/);
    const jobRecord = join(dataDir, 'jobs', 'job-a', 'job.json');
    writeFileSync(jobRecord, '{"status": {}}');
    await expect(check(output(join(root, 'out-own')), [{ path: jobRecord, field }])).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: expect.stringContaining(`${field} ${jobRecord} is inside the service's data folder`),
    });
    await expect(check(output(join(root, 'out-own')), [{ path: join(model, 'x.idx'), field }])).rejects.toThrow(
      /is inside the model store/,
    );
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
    await expect(check(output(out), [{ path: corpus, field }])).rejects.toThrow(`${field} ${corpus} is a dataset file`);
    await expect(check(output(out), [{ path: corpusDir, field }])).rejects.toThrow(/is a folder/);
    await expect(check(output(out), [{ path: join(out, 'kept.jsonl'), field }])).rejects.toThrow(
      /is one of the job's output files/,
    );
    await expect(check(output(out), [{ path: join(out, '.sift-job'), field }])).rejects.toThrow(
      /is one of the job's output files/,
    );
    await expect(check(output(out), [{ path: join(out, 'minhash.index'), field }])).resolves.toBeUndefined();
  });

  it('saves an index over an earlier index only, never over another existing file', async () => {
    const out = join(root, 'out-replace');
    const earlier = join(root, 'earlier.idx');
    await saveExactIndex(earlier, exactIndexOf(exactDedup(['a', 'b']), ['1', '2']));
    await expect(check(output(out), [{ path: earlier, field }])).resolves.toBeUndefined();
    const other = join(root, 'job.json');
    writeFileSync(other, '{"status": {"jobId": "job-b"}}');
    await expect(check(output(out), [{ path: other, field }])).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `${field} ${other} exists and is not a Sift dedup index; saving the index would replace it, so name a new file (or an index an earlier job saved)`,
    });
    // Nor over what a link points at, nor over a FIFO (which is not even opened: reading it would block).
    const link = join(root, 'link.idx');
    symlinkSync(other, link);
    await expect(check(output(out), [{ path: link, field }])).rejects.toThrow(/is not a Sift dedup index/);
    const fifo = join(root, 'fifo.idx');
    execFileSync('mkfifo', [fifo]);
    await expect(check(output(out), [{ path: fifo, field }])).rejects.toThrow(/is not a Sift dedup index/);
    expect(readFileSync(other, 'utf8')).toBe('{"status": {"jobId": "job-b"}}');
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

  it('refuses a folder the service cannot write with the reason, not an internal error', async () => {
    const blocked = join(root, 'a-file');
    writeFileSync(blocked, 'x');
    await expect(claimOutput(output(join(blocked, 'out')), 'job-a')).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringMatching(/^output\.path .*a-file\/out cannot be written by the service \(E[A-Z]+\)/),
    });
  });
});
