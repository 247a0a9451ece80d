import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { commonV1, pruningV1 } from '@sift/contracts';
import { expect, it } from 'vitest';
import { call, refusalOf, watch } from '../src/pruning-calls.js';
import { evaluation, type PruningSuite } from '../src/pruning-suite.js';

/**
 * Bad input: pruning requests refused at submit, and jobs failed on their input with a bounded error.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (pruning.test.ts calls them in order).
 */

/** Requests refused at submit, each with the status and message a user can act on. */
export function rejectsBadRequests(suite: PruningSuite): void {
  it('rejects bad requests before any work starts', async () => {
    const { platform, dataDir, client } = suite;
    const submit = (spec: Record<string, unknown>) =>
      refusalOf(client, 'submitPruning', pruningV1.SubmitPruningRequest.fromPartial({ spec } as never)).then(
        (e) => e?.code ?? Number.NaN,
      );
    const evaluationSpec = { texts: { source: { $case: 'inline' as const, value: { texts: evaluation } } } };
    expect(await submit({ model: { name: 'no-such-model', version: '' }, blockSize: 1, startLayer: 0 })).toBe(
      status.NOT_FOUND,
    );
    expect(
      await submit({
        model: { name: 'byte-gpt', version: '' },
        blockSize: 8,
        startLayer: 0,
        evaluation: evaluationSpec,
      }),
    ).toBe(status.INVALID_ARGUMENT);
    const analysis = await refusalOf(
      client,
      'submitAnalysis',
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '' },
          calibration: { texts: { source: { $case: 'inline', value: { texts: ['fine', ''] } } } },
        },
      }),
    ).then((e) => e?.code ?? Number.NaN);
    expect(analysis).toBe(status.INVALID_ARGUMENT);
    const missingFile = {
      source: { $case: 'dataset' as const, value: { path: join(dataDir, 'nope.jsonl'), textField: 'text' } },
    };
    expect(
      await submit({ model: { name: 'byte-gpt', version: '' }, blockSize: 1, calibration: { texts: missingFile } }),
    ).toBe(status.NOT_FOUND);
    const refusal = (spec: Record<string, unknown>) =>
      refusalOf(client, 'submitPruning', pruningV1.SubmitPruningRequest.fromPartial({ spec } as never));
    // Messages a user can act on: the field by its request path, an article that fits, no 100k-character echo.
    const unnamed = await refusal({ model: { name: '', version: '' }, blockSize: 1, startLayer: 0 });
    expect(unnamed?.code).toBe(status.INVALID_ARGUMENT);
    expect(unnamed?.details).toBe('spec.model.name is required');
    const classifier = await refusal({ model: { name: 'digits-cls', version: '' }, blockSize: 1, startLayer: 0 });
    expect(classifier?.code).toBe(status.FAILED_PRECONDITION);
    expect(classifier?.details).toContain('model digits-cls/1 is an "image-classifier" model;');
    const longName = await refusal({ model: { name: 'm'.repeat(100_000), version: '' }, blockSize: 1, startLayer: 0 });
    expect(longName?.code).toBe(status.NOT_FOUND);
    expect(longName?.details).toMatch(/^unknown model "m{200}…"; the store has: /);
    // A relative path resolved against the service's working directory (README.md read the repo's README).
    const relative = await refusal({
      model: { name: 'byte-gpt', version: '' },
      blockSize: 1,
      calibration: { texts: { source: { $case: 'dataset', value: { path: 'README.md', textField: '' } } } },
    });
    expect(relative?.code).toBe(status.INVALID_ARGUMENT);
    expect(relative?.details).toBe(
      `spec.calibration.texts.dataset.path must be an absolute path on the service's machine, got "README.md"`,
    );
    // A FIFO would block the worker in its open, out of reach of cancel.
    const fifo = join(dataDir, 'texts.jsonl');
    execFileSync('mkfifo', [fifo]);
    const piped = await refusal({
      model: { name: 'byte-gpt', version: '' },
      blockSize: 1,
      calibration: { texts: { source: { $case: 'dataset', value: { path: fifo, textField: 'text' } } } },
    });
    rmSync(fifo);
    expect(piped?.code).toBe(status.INVALID_ARGUMENT);
    expect(piped?.details).toContain(`spec.calibration.texts.dataset.path: ${fifo} is not a regular file`);
    const outside = { source: { $case: 'dataset' as const, value: { path: '/etc/hostname', textField: '' } } };
    expect(
      await submit({ model: { name: 'byte-gpt', version: '' }, blockSize: 1, calibration: { texts: outside } }),
    ).toBe(status.PERMISSION_DENIED);
    // A pruned version under the source's own name would replace the source for unversioned requests.
    const base = { model: { name: 'byte-gpt', version: '' }, blockSize: 1, startLayer: 2, evaluation: evaluationSpec };
    expect(await submit({ ...base, outputName: 'byte-gpt' })).toBe(status.INVALID_ARGUMENT);
    // A block the graph cannot let go of is refused at submit, not minutes into the job.
    const tangledCut = await refusalOf(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: { ...base, model: { name: 'byte-gpt-tangled', version: '' }, startLayer: 3, blockSize: 2 },
      } as never),
    );
    expect(tangledCut?.code).toBe(status.FAILED_PRECONDITION);
    expect(tangledCut?.details).toContain('spec.start_layer: cannot cut layers 3..4');
    // So would one under the name of another model that is not a pruning of this source.
    expect(await submit({ ...base, outputName: 'byte-gpt-plain' })).toBe(status.FAILED_PRECONDITION);
    expect(await submit({ ...base, healing: { method: 1, ridgeAlpha: Number.NaN } })).toBe(status.INVALID_ARGUMENT);
    expect(await submit({ ...base, calibration: { residualStreamPattern: '((' } })).toBe(status.INVALID_ARGUMENT);
    // A latency loop of 2^32 runs held the worker (and every job queued after it) for ever, out of reach of cancel.
    const endless = await refusalOf(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: { ...base, evaluation: { ...evaluationSpec, latencyRuns: 4294967295 } },
      } as never),
    );
    expect(endless?.code).toBe(status.INVALID_ARGUMENT);
    expect(endless?.details).toContain('spec.evaluation.latency_runs 4294967295 exceeds 1000');
    const bogusPage = await refusalOf(
      client,
      'listJobs',
      pruningV1.ListJobsRequest.fromPartial({ pageToken: 'job-not-a-token', pageSize: 1 }),
    ).then((e) => e?.code ?? Number.NaN);
    expect(bogusPage).toBe(status.INVALID_ARGUMENT);
    // An unknown filter value matched no job and answered an empty page, as if there were none.
    const listRefusal = (request: Partial<pruningV1.ListJobsRequest>) =>
      refusalOf(client, 'listJobs', pruningV1.ListJobsRequest.fromPartial(request));
    const badKind = await listRefusal({ kind: 77 as pruningV1.JobKind });
    expect(badKind?.code).toBe(status.INVALID_ARGUMENT);
    expect(badKind?.details).toBe(
      'kind has the unknown value 77; expected one of JOB_KIND_UNSPECIFIED, JOB_KIND_ANALYSIS, JOB_KIND_PRUNING',
    );
    for (const state of [99, -1]) {
      const badState = await listRefusal({ states: [commonV1.JobState.JOB_STATE_SUCCEEDED, state] });
      expect(badState?.code).toBe(status.INVALID_ARGUMENT);
      expect(badState?.details).toMatch(
        new RegExp(
          `^states\\[1\\] has the unknown value ${state}; expected one of JOB_STATE_UNSPECIFIED, JOB_STATE_QUEUED, `,
        ),
      );
    }
    // A job id longer than any job id is refused by its length, without repeating it, over gRPC and the gateway.
    const longId = `job-${'9'.repeat(96)}`;
    for (const method of ['getJob', 'cancelJob']) {
      const refused = await refusalOf(client, method, { jobId: longId });
      expect(refused?.code).toBe(status.INVALID_ARGUMENT);
      expect(refused?.details).toBe('job_id has 100 characters; a pruning job id has at most 64');
    }
    const overHttp = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs/${longId}`);
    expect(overHttp.status).toBe(400);
    expect(JSON.stringify(await overHttp.json())).not.toContain(longId);
  });
}

/** A 2 GiB line fails its job, not the worker; checks that one worker ran so far, so it runs before the kill test. */
export function failsOnOneHugeLine(suite: PruningSuite): void {
  it('fails a job whose plain-text file is one 2 GiB line, naming file and line, and the worker lives on', async () => {
    const { platform, dataDir, client, analyseFile } = suite;
    const worker = platform.children.find((c) => c.name === 'pruning' && c.process.exitCode === null);
    const bigFile = join(dataDir, 'one-line.txt');
    writeFileSync(bigFile, '');
    truncateSync(bigFile, 2 * 1024 * 1024 * 1024); // sparse: NUL bytes, no line break
    const jobId = await analyseFile(bigFile);
    const statuses = await watch(client, jobId);
    rmSync(bigFile);
    expect(statuses.at(-1)?.state).toBe(commonV1.JobState.JOB_STATE_FAILED);
    expect(statuses.at(-1)?.error).toContain(`text longer than 67108864 bytes at ${bigFile}:1`);
    // The same process failed the job and still runs (it used to die of an uncaught RangeError, again on
    // every redelivery); the later tests use it.
    expect(worker?.process.exitCode).toBeNull();
    expect(platform.children.filter((c) => c.name === 'pruning')).toHaveLength(1);
  });
}

/** A failed job's error keeps its first 2,000 characters. */
export function boundsFailedJobError(suite: PruningSuite): void {
  it("keeps the first 2,000 characters of a failed job's error, which here repeats a 2,300-character path", async () => {
    const { dataDir, client, analyseFile } = suite;
    // Twelve nested folders of 190 characters: the path of a calibration file that holds no text.
    const folder = join(dataDir, ...Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(190, 'd')));
    mkdirSync(folder, { recursive: true });
    const blank = join(folder, 'blank.txt');
    writeFileSync(blank, '\n \n\n');
    const jobId = await analyseFile(blank);
    const final = (await watch(client, jobId)).at(-1);
    expect(final?.state).toBe(commonV1.JobState.JOB_STATE_FAILED);
    const { job } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', { jobId });
    const error = job?.status?.error ?? '';
    expect(error).toBe(final?.error);
    // What is kept is the start of the whole message, and an ellipsis.
    const at = error.indexOf(dataDir);
    expect(at).toBeGreaterThan(0);
    expect(error).toBe(`${`${error.slice(0, at)}${blank} holds no non-empty text`.slice(0, 2000)}…`);
  });
}
