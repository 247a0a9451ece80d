import { commonV1 } from '@sift/contracts';
import type { FileJobStore, JobRecord } from './file-job-store.js';

/** A job whose status can say why it failed. */
interface FailableJob extends JobRecord {
  status?: (NonNullable<JobRecord['status']> & { error: string }) | undefined;
}

/**
 * Records a new job, hands it to the work queue (`publish`), and only then remembers its request id (the
 * client's idempotency key). When the queue does not take it (NATS unreachable), the job is marked FAILED
 * with the reason and the error goes back to the caller (UNAVAILABLE from the bus: retry): a retry with the
 * same request id makes a new job instead of finding one that no worker will ever run.
 */
export async function enqueueJob<J extends FailableJob>(
  store: FileJobStore<J>,
  job: J,
  requestId: string,
  publish: () => Promise<void>,
): Promise<void> {
  const jobId = job.status?.jobId ?? '';
  await store.create(job);
  try {
    await publish();
  } catch (err) {
    await store.update(jobId, (j) => {
      if (!j.status) return;
      j.status.state = commonV1.JobState.JOB_STATE_FAILED;
      j.status.error = `not queued: ${(err as Error).message}`;
      j.status.updatedAtMs = Date.now();
    });
    throw err;
  }
  if (requestId) await store.rememberRequest(requestId, jobId);
}
