import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { commonV1, selectionV1 } from '@sift/contracts';
import { waitUntil } from '@sift/launcher';
import { expect, it } from 'vitest';
import { writeCorpusWithNearDuplicates } from '../../../services/selection/test/corpus.js';
import { grpcError } from '../src/grpc-refusal.js';
import { pipeline, type SelectionSuite } from '../src/selection-suite.js';

/**
 * Bad input: requests the selection service refuses at submit, and jobs that fail with the reason.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (selection.test.ts calls them in order).
 */

/** Requests refused at submit; some name news.jsonl of removesPlantedSemanticDuplicates. */
export function rejectsBadPipeline(suite: SelectionSuite): void {
  it('rejects a bad pipeline before any work starts', async () => {
    const { platform, dataDir, submit } = suite;
    const dataset = join(dataDir, 'news.jsonl');
    const bad = await submit({ ...pipeline(dataset, join(dataDir, 'x')), steps: [{ semDedup: { eps: 0.05 } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('needs a kmeans step');
    const eps = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: {} }, { kmeans: { k: 4 } }, { semDedup: { eps: 1.5 } }],
    });
    expect(eps.status).toBe(400);
    expect(eps.body.error.message).toContain('steps[2].sem_dedup.eps must be in (0, 1)');
    // A misspelt parameter would otherwise run with its default: the gateway checks bodies against the contract.
    const typo = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: {} }, { kmeans: { k: 4 } }, { semDedup: { eps: 0.05, comparision: 'kept-only' } }],
    });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toContain('steps[2].semDedup.comparision is not a field of SemDedupStep');
    // The text-quality model is looked up at submit, not when the job reaches the step.
    const quality = (languageModel: { name: string }) =>
      submit({
        ...pipeline(dataset, join(dataDir, 'x')),
        steps: [{ textQuality: { keepFraction: 0.5, languageModel } }],
      });
    const unknownModel = await quality({ name: 'no-such-lm' });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.body.error.message).toContain(
      'steps[0].text_quality.language_model: unknown model "no-such-lm"',
    );
    // So are the embedding model (asked of the embedding service) and dedup indexes to load.
    const unknownEmbedder = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: { model: { name: 'glove-sif-300d' } } }],
    });
    expect(unknownEmbedder.status).toBe(404);
    expect(unknownEmbedder.body.error.message).toMatch(
      /^steps\[0\]\.embed\.model: the embedding service has no model glove-sif-300d; it serves .*glove-sif-100d@1/,
    );
    const tooWide = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: { dimensions: 300 } }],
    });
    expect(tooWide.status).toBe(400);
    expect(tooWide.body.error.message).toBe("steps[0].embed.model: dimensions 300 is more than glove-sif-100d's 100");
    const missingIndex = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ exactDedup: { index: { loadPaths: [join(dataDir, 'no-such.idx')] } } }],
    });
    expect(missingIndex.status).toBe(404);
    expect(missingIndex.body.error.message).toContain('steps[0].index.load_paths[0]: no index file at');
    const notAnLm = await quality({ name: 'glove-sif-100d' });
    expect(notAnLm.status).toBe(400);
    expect(notAnLm.body.error.message).toContain('is not a language model');
    const jobsPage = await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_size=-5`);
    expect(jobsPage.status).toBe(400);
    expect(((await jobsPage.json()) as { error: { message: string } }).error.message).toBe(
      'query parameters: page_size must be an integer from 0 to 4294967295; got "-5"',
    );
    const missing = await submit(pipeline(join(dataDir, 'nope.jsonl'), join(dataDir, 'x')));
    expect(missing.status).toBe(404);
    // Files outside the data roots are refused before the service touches them, for reading and writing.
    const outside = await submit(pipeline('/etc/hostname', join(dataDir, 'x')));
    expect(outside.status).toBe(403);
    expect(outside.body.error.message).toContain('dataset.paths[0] /etc/hostname is outside the folders');
    const writeOutside = await submit(pipeline(dataset, join(tmpdir(), 'sift-elsewhere')));
    expect(writeOutside.status).toBe(403);
    expect(writeOutside.body.error.message).toContain('output.path');
    // A relative path would resolve in the service's working directory, which the caller cannot see.
    const relativeOutput = await submit(pipeline(dataset, 'curated/out'));
    expect(relativeOutput.status).toBe(400);
    expect(relativeOutput.body.error.message).toBe(
      'output.path must be an absolute path on the service\'s machine, got "curated/out"',
    );
    expect((await fetch(`${platform.gatewayUrl}/v1/selection/jobs/job-zzzz-00000000`)).status).toBe(404);
    // Watching an unknown job is a 404 too, and the gateway goes on serving (it used to crash on it).
    const events = await fetch(`${platform.gatewayUrl}/v1/selection/jobs/job-zzzz-00000000/events`);
    expect(events.status).toBe(404);
    expect(((await events.json()) as { error: { message: string } }).error.message).toContain('job-zzzz-00000000');
    expect((await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_size=1`)).status).toBe(200);
    // A page token this service never gave is refused instead of restarting from the first page.
    expect((await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_token=bogus`)).status).toBe(400);
  });
}

/** A job whose k exceeds its records fails, saying so. */
export function failsKBeyondRecords(suite: SelectionSuite): void {
  it('fails a job whose k exceeds the records, with the reason', async () => {
    const { dataDir, submit, job } = suite;
    const dataset = join(dataDir, 'tiny.jsonl');
    writeCorpusWithNearDuplicates(dataset, 5, 0);
    const { body } = await submit({
      ...pipeline(dataset, join(dataDir, 'out-tiny')),
      steps: [{ embed: {} }, { kmeans: { k: 50 } }],
    });
    await waitUntil(
      async () => ['JOB_STATE_FAILED', 'JOB_STATE_SUCCEEDED'].includes((await job(body.jobId)).job.status.state),
      30_000,
    );
    const { job: failed } = await job(body.jobId);
    expect(failed.status.state).toBe('JOB_STATE_FAILED');
    expect(failed.status.error).toContain('k = 50 is larger than the 5 records');
  });
}

/** Index and output paths that would overwrite what is not a selection output are refused. */
export function guardsIndexesAndOutputFolders(suite: SelectionSuite): void {
  it('saves an index over an earlier index only, and overwrites only a folder of selection outputs, refusing at submit', async () => {
    const { dataDir, submit, final } = suite;
    const dataset = join(dataDir, 'guard.jsonl');
    writeCorpusWithNearDuplicates(dataset, 20, 0);
    const out = join(dataDir, 'out-guard');
    const index = join(dataDir, 'guard-indexes', 'exact.idx');
    const exactJob = (path: string, savePath: string, overwrite = false) => ({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [{ name: 'exact', exactDedup: { index: { savePath } } }],
      output: { path, overwrite },
    });
    const first = await submit(exactJob(out, index));
    expect(first.status).toBe(202);
    expect((await final(first.body.jobId)).status.state).toBe('JOB_STATE_SUCCEEDED');

    // Another job's record in the service's data folder, and a file of the user's, are not indexes.
    const record = join(dataDir, 'selection', 'jobs', first.body.jobId, 'job.json');
    const recordBefore = readFileSync(record, 'utf8');
    const overRecord = await submit(exactJob(join(dataDir, 'out-guard-2'), record));
    expect(overRecord.status).toBe(400);
    expect(overRecord.body.error.message).toContain(
      `steps[0].index.save_path ${record} is inside the service's data folder (SIFT_SELECTION_DATA_DIR: `,
    );
    const notes = join(dataDir, 'guard-notes.txt');
    writeFileSync(notes, 'keep me');
    const overNotes = await submit(exactJob(join(dataDir, 'out-guard-2'), notes));
    expect(overNotes.status).toBe(409);
    expect(overNotes.body.error.message).toBe(
      `steps[0].index.save_path ${notes} exists and is not a Sift dedup index; saving the index would replace it, so name a new file (or an index an earlier job saved)`,
    );
    const relativeIndex = await submit(exactJob(join(dataDir, 'out-guard-2'), 'indexes/exact.idx'));
    expect(relativeIndex.status).toBe(400);
    expect(relativeIndex.body.error.message).toContain('steps[0].index.save_path must be an absolute path');
    const outsideIndex = await submit(exactJob(join(dataDir, 'out-guard-2'), join(tmpdir(), 'sift-elsewhere.idx')));
    expect(outsideIndex.status).toBe(403);
    expect(outsideIndex.body.error.message).toContain('steps[0].index.save_path');

    // The first job's folder and index may be written again: they hold only what a selection job writes.
    const again = await submit(exactJob(out, index, true));
    expect(again.status).toBe(202);
    expect((await final(again.body.jobId)).status.state).toBe('JOB_STATE_SUCCEEDED');
    // A file of the user's in the folder, or the service's own folder, are not the outputs of a job.
    writeFileSync(join(out, 'notes.md'), 'mine');
    const foreign = await submit(exactJob(out, '', true));
    expect(foreign.status).toBe(409);
    expect(foreign.body.error.message).toContain(`output.path ${out} holds notes.md, which no selection job writes`);
    const intoService = await submit(exactJob(join(dataDir, 'selection', 'jobs', first.body.jobId), '', true));
    expect(intoService.status).toBe(400);
    expect(intoService.body.error.message).toContain("is inside the service's data folder");

    // Nothing that was there is lost.
    expect(readFileSync(record, 'utf8')).toBe(recordBefore);
    expect(readFileSync(notes, 'utf8')).toBe('keep me');
    expect(readFileSync(join(out, 'notes.md'), 'utf8')).toBe('mine');
    expect(readFileSync(join(out, '.sift-job'), 'utf8').trim()).toBe(again.body.jobId);

    // A NUL character in any path is refused, naming the field, before the file system sees it.
    const nul = `${dataDir}/bad\u0000name`;
    const withNul = [
      [{ ...exactJob(out, ''), dataset: { paths: [nul], textField: 'text' } }, 'dataset.paths[0]'],
      [exactJob(nul, ''), 'output.path'],
      [exactJob(join(dataDir, 'out-guard-2'), nul), 'steps[0].index.save_path'],
      [
        { ...exactJob(join(dataDir, 'out-guard-2'), ''), steps: [{ exactDedup: { index: { loadPaths: [nul] } } }] },
        'steps[0].index.load_paths[0]',
      ],
    ] as const;
    for (const [body, field] of withNul) {
      const refused = await submit(body);
      expect(refused.status, field).toBe(400);
      expect(refused.body.error.message).toBe(`${field} contains a NUL character`);
    }
  });
}

/** Oversized requests, unknown enum numbers and huge job errors are bounded. */
export function boundsRequestsAndErrors(suite: SelectionSuite): void {
  it('bounds what a request holds and a job error repeats, and refuses enum numbers the contract lacks', async () => {
    const { dataDir, client, final } = suite;
    const dataset = join(dataDir, 'bounds.jsonl');
    writeCorpusWithNearDuplicates(dataset, 10, 0);
    const request = selectionV1.SubmitJobRequest.fromPartial({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [{ name: 'exact', kind: { $case: 'exactDedup', value: {} } }],
      output: { path: join(dataDir, 'out-bounds') },
    });
    /** `request` with some of its dataset's and output's fields changed, over gRPC. */
    const submitOverGrpc = (change: {
      dataset?: Partial<selectionV1.Dataset>;
      output?: Partial<selectionV1.OutputSpec>;
      steps?: selectionV1.Step[];
    }) =>
      new Promise<selectionV1.SubmitJobResponse>((resolve, reject) =>
        client.submitJob(
          {
            ...request,
            dataset: { ...(request.dataset as selectionV1.Dataset), ...change.dataset },
            output: { ...(request.output as selectionV1.OutputSpec), ...change.output },
            steps: change.steps ?? request.steps,
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    const listOverGrpc = (req: Partial<selectionV1.ListJobsRequest>) =>
      new Promise<selectionV1.ListJobsResponse>((resolve, reject) =>
        client.listJobs(selectionV1.ListJobsRequest.fromPartial(req), (err, res) => (err ? reject(err) : resolve(res))),
      );
    const huge = await grpcError(submitOverGrpc({ dataset: { textField: 'x'.repeat(7_000_000) } }));
    expect(huge?.code).toBe(status.INVALID_ARGUMENT);
    expect(huge?.details).toBe('dataset.text_field has 7000000 characters; at most 256');
    const manySteps = await grpcError(submitOverGrpc({ steps: Array(65).fill(request.steps[0]) }));
    expect(manySteps?.code).toBe(status.INVALID_ARGUMENT);
    expect(manySteps?.details).toBe('steps: 65 steps; a pipeline has at most 64 (split the work into several jobs)');
    const format = await grpcError(submitOverGrpc({ dataset: { format: 99 as selectionV1.DatasetFormat } }));
    expect(format?.code).toBe(status.INVALID_ARGUMENT);
    expect(format?.details).toMatch(/^dataset\.format has the unknown value 99; expected one of DATASET_FORMAT_/);
    const outFormat = await grpcError(submitOverGrpc({ output: { format: 7 as selectionV1.DatasetFormat } }));
    expect(outFormat?.details).toMatch(/^output\.format has the unknown value 7/);
    for (const state of [99, -1]) {
      const listed = await grpcError(listOverGrpc({ states: [1, state as commonV1.JobState] }));
      expect(listed?.code).toBe(status.INVALID_ARGUMENT);
      expect(listed?.details).toMatch(
        new RegExp(`^states\\[1\\] has the unknown value ${state}; expected one of JOB_STATE_`),
      );
    }

    // A job whose error would repeat a megabyte of the dataset keeps a bounded part of it.
    const longId = 'i'.repeat(1_000_000);
    const copies = join(dataDir, 'bounds-duplicate-ids.jsonl');
    writeFileSync(
      copies,
      `${JSON.stringify({ id: longId, text: 'a' })}\n${JSON.stringify({ id: longId, text: 'b' })}\n`,
    );
    const failing = await submitOverGrpc({
      dataset: { paths: [copies] },
      output: { path: join(dataDir, 'out-bounds-ids') },
    });
    const failed = await final(failing.jobId);
    expect(failed.status.state).toBe('JOB_STATE_FAILED');
    expect(failed.status.error).toMatch(/^duplicate record id "i{200}…": records 0 and 1/);
    expect(failed.status.error.length).toBeLessThanOrEqual(2000);
    const page = await listOverGrpc({ pageSize: 500, states: [commonV1.JobState.JOB_STATE_FAILED] });
    expect(page.jobs.find((j) => j.jobId === failing.jobId)?.error).toBe(failed.status.error);
  });
}

/** Malformed job ids are 400 and unknown ones 404, on every job route. */
export function tellsMalformedFromUnknownJobIds(suite: SelectionSuite): void {
  it('tells a job id that is not one (400) from an unknown one (404) on every job route', async () => {
    const { platform } = suite;
    const at = (path: string, method = 'GET') => fetch(`${platform.gatewayUrl}/v1/selection/jobs/${path}`, { method });
    for (const [path, method] of [
      ['', 'GET'],
      ['/events', 'GET'],
      ['/cancel', 'POST'],
    ] as const) {
      const malformed = await at(`not-a-job${path}`, method);
      expect(malformed.status, `${method} not-a-job${path}`).toBe(400);
      expect(((await malformed.json()) as { error: { message: string } }).error.message).toBe(
        'job_id "not-a-job" is not a selection job id',
      );
      // A path-traversal attempt is a malformed id too, not an unknown route.
      const traversal = await at(`..%2F..%2Fetc${path}`, method);
      expect(traversal.status, `${method} ..%2F..%2Fetc${path}`).toBe(400);
      const unknown = await at(`job-zzzz-00000000${path}`, method);
      expect(unknown.status, `${method} job-zzzz-00000000${path}`).toBe(404);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe(
        'unknown job "job-zzzz-00000000"',
      );
    }
  });
}
