import type { Bus, Subject } from '@sift/bus';
import type { commonV1 } from '@sift/contracts';
import { echoed } from '@sift/kit';
import type { FileJobStore, JobRecord } from './file-job-store.js';

/**
 * Characters of a job's error that its record keeps (and ListJobs answers): enough for any message of ours
 * with its echoed values, while a page of 500 jobs stays far below the gRPC message limit. An error can
 * repeat what a dataset or a request holds (a record id, a path), so it is cut when it is stored.
 */
export const maxJobErrorChars = 2000;

/** The status fields every job service's JobStatus has. */
export interface ServiceJobStatus {
  jobId: string;
  state: commonV1.JobState;
  progress?: commonV1.Progress | undefined;
  error: string;
  updatedAtMs: number;
}

/** A job service's Job message as the shared handlers use it: a status that says why it failed, and its end. */
export interface ServiceJob extends JobRecord {
  status?: ServiceJobStatus | undefined;
  finishedAtMs: number;
}

/** What the shared job code needs of the bus. */
export type JobBus = Pick<Bus, 'publish' | 'subscribe'>;

/**
 * A job service's events about its jobs: `progressed` (job_progressed, every status change, keyed by job id:
 * what WatchJob follows) and `finished` (job_finished, published once when a job ends: succeeded, failed or
 * cancelled).
 */
export interface JobEvents<J extends ServiceJob, F> {
  progressed: Subject<{ status?: J['status'] }>;
  finished: Subject<F>;
  /** The job_finished message of a job that ended. */
  finishedMessage(job: J): F;
}

/**
 * Records that a job ended in `state` and announces it: job_progressed with the final status (watchers end
 * on it), then job_finished. `error` is stored cut to {@link maxJobErrorChars}; `record` adds what the
 * service keeps of a finished job (its report or result). Every way a job ends goes through here (a worker
 * finishing or failing it, a client cancelling it while queued), so each end is recorded and published alike.
 */
export async function endJob<J extends ServiceJob, F>(
  store: FileJobStore<J>,
  bus: JobBus,
  events: JobEvents<J, F>,
  jobId: string,
  state: commonV1.JobState,
  opts: { error?: string; record?: (job: J) => void } = {},
): Promise<J> {
  const job = await store.update(jobId, (j) => {
    if (!j.status) return;
    j.status.state = state;
    j.status.error = echoed(opts.error ?? '', maxJobErrorChars);
    j.finishedAtMs = Date.now();
    opts.record?.(j);
  });
  await bus.publish(events.progressed, { status: job.status }, jobId);
  await bus.publish(events.finished, events.finishedMessage(job), jobId);
  return job;
}
