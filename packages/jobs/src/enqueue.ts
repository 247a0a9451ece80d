import { commonV1 } from '@sift/contracts';
import { type CallContext, echoed, requireCallOpen, SiftError } from '@sift/kit';
import { FileJobStore, type JobRecord } from './file-job-store.js';

/** A job whose status can say why it failed. */
interface FailableJob extends JobRecord {
  status?: (NonNullable<JobRecord['status']> & { error: string }) | undefined;
}

/**
 * Records a new job and hands it to the work queue (`publish`). When the queue does not take it (NATS
 * unreachable), the job is marked FAILED with the reason and the error goes back to the caller (UNAVAILABLE
 * from the bus: retry; {@link oncePerRequest} frees its request id, so the retry makes a new job instead of
 * finding one that no worker will ever run).
 *
 * `call` is the submitting call: when its client has gone (cancelled, or its deadline passed while the
 * submit was checking a large request) nothing is created, and the call ends CANCELLED or DEADLINE_EXCEEDED.
 * A client told its submit failed must be able to trust that no job runs. (The window between creating the
 * job and the answer reaching the client stays: a `request_id` makes the retry find that job.)
 */
export async function enqueueJob<J extends FailableJob>(
  store: FileJobStore<J>,
  job: J,
  publish: () => Promise<void>,
  call?: Pick<CallContext, 'signal' | 'deadline'>,
): Promise<void> {
  const jobId = job.status?.jobId ?? '';
  if (call) requireCallOpen(call);
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
}

/** How long a reserved request id may name a job that does not exist before it counts as abandoned. */
const abandonedReservationSeconds = 30;

/**
 * Submits at most one job per request id (the client's idempotency key; empty: no key). The key is reserved
 * for `jobId` before `create` checks and queues the job, and freed when `create` fails. A submit that finds
 * the key held answers with `existing(holder)` once the holder's job record exists (`existing` checks that
 * the request is the same one), waiting for a concurrent submit that is still creating it.
 */
export async function oncePerRequest<J extends FailableJob, R>(
  store: FileJobStore<J>,
  requestId: string,
  jobId: string,
  existing: (holder: string) => Promise<R>,
  create: () => Promise<R>,
): Promise<R> {
  if (!requestId) return create();
  for (let attempt = 0; attempt < 100; attempt++) {
    const holder = await store.reserveRequest(requestId, jobId);
    if (holder === undefined) {
      try {
        return await create();
      } catch (err) {
        await store.releaseRequest(requestId, jobId);
        throw err;
      }
    }
    if (holder && (await store.getIfReadable(holder))) return existing(holder);
    // A submit that reserved the key and died before creating its job must not hold the key for ever.
    if (((await store.requestAgeSeconds(requestId)) ?? 0) > abandonedReservationSeconds) {
      await store.releaseRequest(requestId, holder);
    } else {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new SiftError('unavailable', `request_id "${echoed(requestId)}" is being submitted by another call; retry`);
}

/**
 * A submit under {@link oncePerRequest} with a new job id for `create`. A retry must repeat the request:
 * when the key's job was made from the same request (`sameRequest`), the retry gets `answer(holder, job)`,
 * what the first submit answered; the same key on a different request is a client bug to surface
 * (FAILED_PRECONDITION), not a reason to answer with an unrelated job.
 */
export function submitOncePerRequest<J extends FailableJob, R>(
  store: FileJobStore<J>,
  requestId: string,
  opts: {
    sameRequest: (job: J) => boolean;
    answer: (holder: string, job: J) => R;
    create: (jobId: string) => Promise<R>;
  },
): Promise<R> {
  const jobId = FileJobStore.newId();
  const retried = async (holder: string) => {
    const job = await store.get(holder);
    if (!opts.sameRequest(job)) {
      throw new SiftError(
        'failed_precondition',
        `request_id "${echoed(requestId)}" was used for job ${holder} with a different request; a retry must repeat the request exactly, a new request needs a new request_id`,
      );
    }
    return opts.answer(holder, job);
  };
  return oncePerRequest(store, requestId, jobId, retried, () => opts.create(jobId));
}
