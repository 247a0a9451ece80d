import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonV1, pruningV1 } from '@sift/contracts';
import { createLogger, type Logger, SiftError } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueJob, oncePerRequest } from './enqueue.js';
import { FileJobStore } from './file-job-store.js';
import { JobWorker, jobProgressReporter } from './job-worker.js';

const root = mkdtempSync(join(tmpdir(), 'sift-jobs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const store = new FileJobStore<pruningV1.Job>(root, pruningV1.Job, 'pruning');
const logger = createLogger('jobs-test', 'error');

async function newJob(): Promise<string> {
  const jobId = FileJobStore.newId();
  await store.create(
    pruningV1.Job.fromPartial({ status: { jobId, state: commonV1.JobState.JOB_STATE_QUEUED, updatedAtMs: 1 } }),
  );
  return jobId;
}

/** A worker whose body is given by the test; it records how jobs were settled. */
class TestWorker extends JobWorker<pruningV1.Job> {
  readonly settled: { jobId: string; state: commonV1.JobState; error: string }[] = [];

  constructor(private readonly body: (controller: AbortController, jobId: string) => Promise<void>) {
    super(store, logger, 'test');
  }

  protected execute(job: pruningV1.Job, controller: AbortController, _log: Logger): Promise<void> {
    return this.body(controller, job.status?.jobId ?? '');
  }

  protected async settle(jobId: string, state: commonV1.JobState, error: string): Promise<void> {
    this.settled.push({ jobId, state, error });
    await store.update(jobId, (j) => {
      if (j.status) j.status.state = state;
    });
  }
}

describe('JobWorker', () => {
  it('lets go of a job it cannot read, and never turns a final job into a failed one', async () => {
    const worker = new TestWorker(async () => {
      throw new Error('must not run');
    });
    await worker.run('job-zzzz-00000000'); // unknown: nothing to run, no throw (the message is acked)
    const corrupt = await newJob();
    writeFileSync(join(root, corrupt, 'job.json'), '{"status": {"jobId"');
    await worker.run(corrupt);
    await expect(store.get(corrupt)).rejects.toMatchObject({ kind: 'failed_precondition' });
    expect(await store.getIfReadable(corrupt)).toBeUndefined();
    // The body saved SUCCEEDED, then a later step (announcing it) failed: the job stays SUCCEEDED.
    const done = await newJob();
    const announcing = new TestWorker(async (_c, jobId) => {
      await store.update(jobId, (j) => {
        if (j.status) j.status.state = commonV1.JobState.JOB_STATE_SUCCEEDED;
      });
      throw new SiftError('unavailable', 'the event bus did not take sift.pruning.v1.job_finished');
    });
    await announcing.run(done);
    expect(announcing.settled).toEqual([]);
    expect((await store.get(done)).status?.state).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
    expect(worker.settled).toEqual([]);
  });

  it('drops a message naming no job at once, and fails a job whose run record is damaged, saying so', async () => {
    const worker = new TestWorker(async () => {
      throw new Error('must not run');
    });
    // An empty or forged id: no retry could ever run it (it used to be retried for minutes).
    await worker.run('');
    await worker.run('../../etc');
    const damaged = await newJob();
    writeFileSync(join(root, damaged, 'run.json'), '{"complet');
    await worker.run(damaged);
    expect(worker.settled).toEqual([
      {
        jobId: damaged,
        state: commonV1.JobState.JOB_STATE_FAILED,
        error: expect.stringMatching(new RegExp(`^job ${damaged}: its run record \\(run.json\\) is unreadable`)),
      },
    ]);
  });

  it('lists only job folders, and answers a record it cannot read as FAILED_PRECONDITION', async () => {
    const kept = await newJob();
    mkdirSync(join(root, `${kept}.bak`));
    const folder = await newJob();
    rmSync(join(root, folder, 'job.json'));
    mkdirSync(join(root, folder, 'job.json'));
    expect(await store.list()).not.toContain(`${kept}.bak`);
    // A malformed id stays INVALID_ARGUMENT; only a record that exists and cannot be read is FAILED_PRECONDITION.
    await expect(store.get('not-a-job')).rejects.toMatchObject({ kind: 'invalid_argument' });
    expect((await store.page('', 500, () => true)).jobs.map((j) => j.status?.jobId)).toContain(kept);
    await expect(store.get(folder)).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `job ${folder}: its record cannot be read (EISDIR)`,
    });
  });

  it('cancels a job between its progress ticks: a body waiting on its signal alone stops', async () => {
    const jobId = await newJob();
    await store.saveRun(jobId, { completedStages: 0, cancelRequested: false });
    let waiting: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    // A long model call that takes the job's signal and reports no progress until it returns.
    const worker = new TestWorker(
      (controller) =>
        new Promise<void>((_resolve, reject) => {
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason));
          waiting();
        }),
    );
    const run = worker.run(jobId);
    await started;
    await store.requestCancel(jobId);
    await run; // ends within a cancel poll; without the poll it would never end
    expect(worker.settled).toEqual([
      { jobId, state: commonV1.JobState.JOB_STATE_CANCELLED, error: 'cancelled by a client' },
    ]);
  });

  it('fails a job whose worker died on each of its last starts instead of starting it again', async () => {
    const jobId = await newJob();
    const worker = new TestWorker(async () => {
      throw new Error('must not run');
    });
    await worker.run(jobId, 9);
    expect(worker.settled).toEqual([
      {
        jobId,
        state: commonV1.JobState.JOB_STATE_FAILED,
        error: expect.stringContaining('the job was started 8 times and its worker stopped each time'),
      },
    ]);
  });

  it('submits one job per request id, even when the same request arrives concurrently', async () => {
    const job = (jobId: string) =>
      pruningV1.Job.fromPartial({ status: { jobId, state: commonV1.JobState.JOB_STATE_QUEUED, updatedAtMs: 1 } });
    const submit = (requestId: string, publish: () => Promise<void>) => {
      const jobId = FileJobStore.newId();
      return oncePerRequest(
        store,
        requestId,
        jobId,
        async (holder) => holder,
        async () => {
          await new Promise((r) => setTimeout(r, 50)); // checks that take a while
          await enqueueJob(store, job(jobId), publish);
          return jobId;
        },
      );
    };
    const ids = await Promise.all([1, 2, 3].map(() => submit('request-1', async () => {})));
    expect(new Set(ids).size).toBe(1);
    expect(await store.jobForRequest('request-1')).toBe(ids[0]);
    // A key of any length (it names a file by its hash).
    const long = 'k'.repeat(5000);
    expect(await submit(long, async () => {})).toBe(await submit(long, async () => {}));

    // The queue does not take the job: it is FAILED with the reason, and a retry makes a new one.
    const down = new SiftError('unavailable', 'the event bus did not take sift.pruning.v1.job_submitted');
    await expect(
      submit('request-2', async () => {
        throw down;
      }),
    ).rejects.toBe(down);
    expect(await store.jobForRequest('request-2')).toBeUndefined();
    const retried = await submit('request-2', async () => {});
    expect((await store.get(retried)).status?.state).toBe(commonV1.JobState.JOB_STATE_QUEUED);
  });

  it('fails a job whose body throws, with the error as the reason, and leaves final jobs alone', async () => {
    const jobId = await newJob();
    const worker = new TestWorker(async () => {
      throw new SiftError('invalid_argument', 'calibration.texts[3] is empty');
    });
    await worker.run(jobId);
    expect(worker.settled).toEqual([
      { jobId, state: commonV1.JobState.JOB_STATE_FAILED, error: 'calibration.texts[3] is empty' },
    ]);
    await worker.run(jobId); // FAILED is final: nothing runs again
    expect(worker.settled).toHaveLength(1);
    // An unexpected error keeps its own message: the job's owner cannot read the service log.
    const other = await newJob();
    const crashing = new TestWorker(async () => {
      throw new Error("input 'ids' is missing in 'feeds'.");
    });
    await crashing.run(other);
    expect(crashing.settled[0]?.error).toBe(
      "internal error: input 'ids' is missing in 'feeds'. (details in the service log)",
    );
  });

  it('cancels a job a client asked to cancel, through the progress tick', async () => {
    const jobId = await newJob();
    const worker = new TestWorker(async (controller) => {
      const progress = jobProgressReporter({ jobId, store, controller, publish: async () => {}, logger });
      progress.stage('work');
      await store.saveRun(jobId, { completedStages: 0, cancelRequested: true });
      for (let i = 1; ; i++) {
        progress.tick(i, 1_000_000);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    await worker.run(jobId);
    expect(worker.settled).toEqual([
      { jobId, state: commonV1.JobState.JOB_STATE_CANCELLED, error: 'cancelled by a client' },
    ]);
    expect((await store.get(jobId)).status?.progress?.stage).toBe('work');
  });

  it('writes progress at most every 250 ms, also while the total is unknown, and always the completing tick', async () => {
    const jobId = await newJob();
    const controller = new AbortController();
    const published: { done: number; total: number }[] = [];
    let now = 10_000; // the reporter's clock, in ms: it moves only when the test moves it
    const progress = jobProgressReporter({
      jobId,
      store,
      controller,
      publish: async (status) => {
        published.push({ done: Number(status?.progress?.done), total: Number(status?.progress?.total) });
      },
      logger,
      now: () => now,
    });
    progress.stage('load');
    for (let i = 1; i <= 5000; i++) progress.tick(i, 0); // reading: size unknown
    now += 249;
    progress.tick(5001, 0);
    now += 1;
    progress.tick(5002, 0);
    progress.stage('work');
    for (let i = 1; i <= 5000; i++) progress.tick(i, 5000);
    await progress.written();
    expect(published).toEqual([
      { done: 0, total: 0 }, // stage('load')
      { done: 1, total: 0 }, // its first tick; the next 4,999 at the same time, and 5001 at 249 ms, are held back
      { done: 5002, total: 0 }, // 250 ms after the last write
      { done: 0, total: 0 }, // stage('work')
      { done: 1, total: 5000 },
      { done: 5000, total: 5000 }, // completes the stage: written at once
    ]);
  });

  it('estimates the time left from the current phase only: a new total restarts the rate', async () => {
    const jobId = await newJob();
    const etas: number[] = [];
    let now = 10_000; // the reporter's clock, in ms: it moves only when the test moves it
    const progress = jobProgressReporter({
      jobId,
      store,
      controller: new AbortController(),
      publish: async (status) => {
        etas.push(Number(status?.progress?.etaSeconds));
      },
      logger,
      now: () => now,
    });
    progress.stage('quality');
    progress.tick(1, 2); // a slow first phase: the second of two calls comes 400 ms later
    now += 400;
    progress.tick(2, 2);
    now += 300;
    progress.tick(500, 1000); // the fast second phase begins
    now += 250;
    progress.tick(750, 1000);
    await progress.written();
    // 750 documents in the phase's 0.25 s leave 250 for 0.083 s; measured from the stage's start (0.95 s)
    // it would predict 0.317 s.
    expect(etas.slice(0, 4)).toEqual([-1, 0, 0, 0]);
    expect(etas[4]).toBeCloseTo((0.25 * 250) / 750, 9);
  });

  it("says what a stage's ticks count: the stage's unit, a phase's own, none for a stage that named none", async () => {
    const jobId = await newJob();
    const units: string[] = [];
    let now = 10_000;
    const progress = jobProgressReporter({
      jobId,
      store,
      controller: new AbortController(),
      publish: async (status) => {
        units.push(
          `${status?.progress?.stage} ${status?.progress?.done}/${status?.progress?.total} ${status?.progress?.unit}`,
        );
      },
      logger,
      now: () => now,
    });
    progress.stage('quality', 1, 'documents');
    progress.tick(1, 3, 'perplexity evaluations');
    now += 300;
    progress.tick(3, 3);
    now += 300;
    progress.tick(10, 10, 'documents');
    progress.stage('write', 2);
    await progress.written();
    expect(units).toEqual([
      'quality 0/0 documents',
      'quality 1/3 perplexity evaluations',
      'quality 3/3 perplexity evaluations',
      'quality 10/10 documents',
      'write 0/0 ',
    ]);
    expect((await store.get(jobId)).status?.progress?.unit).toBe('');
  });

  it('drops a progress write that lands after the job ended', async () => {
    const jobId = await newJob();
    const published: number[] = [];
    const progress = jobProgressReporter({
      jobId,
      store,
      controller: new AbortController(),
      publish: async (status) => {
        published.push(Number(status?.progress?.done));
      },
      logger,
    });
    progress.stage('write');
    await progress.written();
    expect(published).toHaveLength(1);
    await store.update(jobId, (j) => {
      if (!j.status) return;
      j.status.state = commonV1.JobState.JOB_STATE_SUCCEEDED;
      j.status.progress = { stage: 'write', done: 10, total: 10, etaSeconds: 0, unit: 'records' };
    });
    progress.tick(3, 10); // queued before the end, written after it
    await progress.written();
    expect((await store.get(jobId)).status?.progress).toMatchObject({ done: 10, total: 10 });
    expect(published).toHaveLength(1);
  });

  it('on shutdown stops the job without settling it and rethrows, so the queue redelivers it', async () => {
    const jobId = await newJob();
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const worker = new TestWorker(async (controller) => {
      started();
      await new Promise((_, reject) =>
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason)),
      );
    });
    const run = worker.run(jobId);
    await running;
    worker.shutdown();
    await expect(run).rejects.toMatchObject({ kind: 'unavailable' });
    expect(worker.settled).toEqual([]);
    expect((await store.get(jobId)).status?.state).toBe(commonV1.JobState.JOB_STATE_QUEUED);
  });
});

describe('FileJobStore cancel requests', () => {
  it('keeps a cancel written while the worker rewrites its run record from an older copy', async () => {
    const jobId = await newJob();
    const before = await store.run(jobId); // the worker's copy, read before the client cancels
    await store.requestCancel(jobId);
    await store.saveRun(jobId, { ...before, completedStages: 1 }); // the worker saves a finished stage
    expect(await store.run(jobId)).toEqual({ completedStages: 1, cancelRequested: true });
  });
});
