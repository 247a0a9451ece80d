import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonV1, pruningV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueJob, oncePerRequest } from './enqueue.js';
import { FileJobStore } from './file-job-store.js';

const root = mkdtempSync(join(tmpdir(), 'sift-enqueue-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const store = new FileJobStore<pruningV1.Job>(root, pruningV1.Job, 'pruning');

const job = (jobId: string) =>
  pruningV1.Job.fromPartial({ status: { jobId, state: commonV1.JobState.JOB_STATE_QUEUED, updatedAtMs: 1 } });

/** A submit as the services make it: one job per request id, queued with the call's signal and deadline. */
async function submit(requestId: string, call: { signal: AbortSignal; deadline: number | undefined }) {
  const jobId = FileJobStore.newId();
  let published = false;
  const outcome = await oncePerRequest(
    store,
    requestId,
    jobId,
    async (holder) => holder,
    async () => {
      await enqueueJob(
        store,
        job(jobId),
        async () => {
          published = true;
        },
        call,
      );
      return jobId;
    },
  ).catch((err: unknown) => err);
  return { jobId, outcome, published };
}

describe('enqueueJob', () => {
  it('creates no job for a caller that cancelled before the job was queued, and frees its request id', async () => {
    const cancelled = new AbortController();
    cancelled.abort(new SiftError('cancelled', 'the client cancelled the call'));
    const { jobId, outcome, published } = await submit('request-cancelled', {
      signal: cancelled.signal,
      deadline: undefined,
    });
    expect(outcome).toMatchObject({ kind: 'cancelled' });
    expect(published).toBe(false);
    expect(await store.list()).not.toContain(jobId);
    expect(await store.jobForRequest('request-cancelled')).toBeUndefined();
  });

  it('creates no job when the deadline passed before the job was queued, even before the timer fired', async () => {
    // The signal is not aborted yet: a handler that kept the event loop busy runs before the deadline timer.
    const { jobId, outcome, published } = await submit('request-late', {
      signal: new AbortController().signal,
      deadline: Date.now() - 1,
    });
    expect(outcome).toMatchObject({ kind: 'deadline_exceeded' });
    expect(published).toBe(false);
    expect(await store.list()).not.toContain(jobId);
    expect(await store.jobForRequest('request-late')).toBeUndefined();
  });

  it('queues the job of a caller still waiting for it', async () => {
    const { jobId, outcome, published } = await submit('request-live', {
      signal: new AbortController().signal,
      deadline: Date.now() + 60_000,
    });
    expect(outcome).toBe(jobId);
    expect(published).toBe(true);
    expect((await store.get(jobId)).status?.state).toBe(commonV1.JobState.JOB_STATE_QUEUED);
  });
});
