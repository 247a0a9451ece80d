import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Subject, subjects } from '@sift/bus';
import { commonV1, pruningV1 } from '@sift/contracts';
import type { CallContext } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { FileJobStore } from './file-job-store.js';
import { endJob, type JobBus, type JobEvents, maxJobErrorChars } from './job-events.js';
import { jobServiceHandlers } from './job-service-handlers.js';

const root = mkdtempSync(join(tmpdir(), 'sift-job-handlers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const store = new FileJobStore<pruningV1.Job>(root, pruningV1.Job, 'pruning');

/** A bus that records what is published, subject by subject. */
function recordingBus() {
  const published: { subject: string; message: unknown; key: string | undefined }[] = [];
  const bus: JobBus = {
    publish: async <T>(subject: Subject<T>, message: T, key?: string) => {
      published.push({ subject: subject.name, message, key });
    },
    subscribe: () => () => {},
  };
  return { bus, published };
}

const events: JobEvents<pruningV1.Job, pruningV1.JobFinished> = {
  progressed: subjects.pruningJobProgressed,
  finished: subjects.pruningJobFinished,
  finishedMessage: (job) => ({ status: job.status, analysisResult: undefined }),
};

async function newJob(state = commonV1.JobState.JOB_STATE_QUEUED): Promise<string> {
  const jobId = FileJobStore.newId();
  await store.create(pruningV1.Job.fromPartial({ status: { jobId, state, updatedAtMs: 1 } }));
  return jobId;
}

const ctx = {} as CallContext;

describe('jobServiceHandlers', () => {
  it('ends a queued job at CancelJob, publishing job_progressed and then job_finished with its final status', async () => {
    const { bus, published } = recordingBus();
    const { cancelJob } = jobServiceHandlers({ store, bus, events });
    const jobId = await newJob();
    const answer = await cancelJob({ jobId }, ctx);
    expect(answer.status).toMatchObject({ jobId, state: commonV1.JobState.JOB_STATE_CANCELLED });
    expect(published.map((p) => [p.subject, p.key])).toEqual([
      [subjects.pruningJobProgressed.name, jobId],
      [subjects.pruningJobFinished.name, jobId],
    ]);
    expect(published[1]?.message).toMatchObject({ status: { state: commonV1.JobState.JOB_STATE_CANCELLED } });
    expect((await store.get(jobId)).finishedAtMs).toBeGreaterThan(0);
    // Again: the same request, answered as before and announced no second time.
    expect((await cancelJob({ jobId }, ctx)).status.state).toBe(commonV1.JobState.JOB_STATE_CANCELLED);
    expect(published).toHaveLength(2);
  });

  it('asks a running job to stop without ending it, and refuses to cancel a finished one', async () => {
    const { bus, published } = recordingBus();
    const { cancelJob } = jobServiceHandlers({ store, bus, events });
    const running = await newJob(commonV1.JobState.JOB_STATE_RUNNING);
    expect((await cancelJob({ jobId: running }, ctx)).status.state).toBe(commonV1.JobState.JOB_STATE_RUNNING);
    expect((await store.run(running)).cancelRequested).toBe(true);
    const done = await newJob(commonV1.JobState.JOB_STATE_SUCCEEDED);
    await expect(cancelJob({ jobId: done }, ctx)).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `job ${done} already finished (JOB_STATE_SUCCEEDED)`,
    });
    expect(published).toEqual([]);
  });

  it('refuses a job id or page token longer than any job id without repeating it', async () => {
    const { getJob, cancelJob, listJobs } = jobServiceHandlers({ store, ...recordingBus(), events });
    const long = `job-${'x'.repeat(96)}`;
    for (const call of [getJob({ jobId: long }, ctx), cancelJob({ jobId: long }, ctx)]) {
      await expect(call).rejects.toMatchObject({
        kind: 'invalid_argument',
        message: 'job_id has 100 characters; a pruning job id has at most 64',
      });
    }
    await expect(listJobs({ pageSize: 1, pageToken: long, states: [] }, ctx)).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: 'page_token has 100 characters; a pruning job id has at most 64',
    });
  });

  it('lists jobs in the asked states through the service filter, refusing an unknown state', async () => {
    const { bus } = recordingBus();
    const seen: pruningV1.ListJobsRequest[] = [];
    const { listJobs } = jobServiceHandlers({
      store,
      bus,
      events,
      listFilter: (req: pruningV1.ListJobsRequest) => {
        seen.push(req);
        return (status) => status.jobId !== excluded;
      },
    });
    const failed = await newJob(commonV1.JobState.JOB_STATE_FAILED);
    const excluded = await newJob(commonV1.JobState.JOB_STATE_FAILED);
    const request = pruningV1.ListJobsRequest.fromPartial({ states: [commonV1.JobState.JOB_STATE_FAILED] });
    const page = await listJobs(request, ctx);
    expect(page.jobs.map((s: pruningV1.JobStatus) => s.jobId)).toEqual([failed]);
    expect(seen).toEqual([request]);
    await expect(listJobs({ ...request, states: [99] }, ctx)).rejects.toMatchObject({ kind: 'invalid_argument' });
  });
});

describe('endJob', () => {
  it(`stores at most ${maxJobErrorChars} characters of a failed job's error, and announces the end`, async () => {
    const { bus, published } = recordingBus();
    const jobId = await newJob(commonV1.JobState.JOB_STATE_RUNNING);
    const error = `record ${'r'.repeat(10_000)} is unreadable`;
    await endJob(store, bus, events, jobId, commonV1.JobState.JOB_STATE_FAILED, { error });
    const stored = (await store.get(jobId)).status?.error ?? '';
    expect(stored).toBe(`${error.slice(0, maxJobErrorChars)}…`);
    expect(published.map((p) => p.subject)).toEqual([
      subjects.pruningJobProgressed.name,
      subjects.pruningJobFinished.name,
    ]);
  });
});
