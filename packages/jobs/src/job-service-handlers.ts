import { commonV1 } from '@sift/contracts';
import { echoed, requireKnownEnum, SiftError, type StreamHandler, type UnaryHandler } from '@sift/kit';
import { type FileJobStore, isTerminal, maxJobIdChars } from './file-job-store.js';
import { endJob, type JobBus, type JobEvents, maxJobErrorChars, type ServiceJob } from './job-events.js';
import { streamJobStatus } from './watch.js';

/** The fields every job service's ListJobsRequest has. */
export interface ListJobsQuery {
  /** Jobs per page; 0 means 50, at most 500. */
  pageSize: number;
  pageToken: string;
  states: commonV1.JobState[];
}

/** The RPCs every job service has alike, as the service's handler map takes them. */
export interface JobServiceHandlers {
  getJob: UnaryHandler;
  listJobs: UnaryHandler;
  cancelJob: UnaryHandler;
  watchJob: StreamHandler;
}

/**
 * GetJob, ListJobs, CancelJob and WatchJob of a job service, over its job store and its events on the bus.
 * `listFilter` narrows ListJobs beyond `states` (pruning: `kind`); it checks its fields when called, before
 * any job is read, so an unknown value is INVALID_ARGUMENT rather than an empty page that hides the typo.
 */
export function jobServiceHandlers<J extends ServiceJob, F, L extends ListJobsQuery = ListJobsQuery>(opts: {
  store: FileJobStore<J>;
  bus: JobBus;
  events: JobEvents<J, F>;
  listFilter?: (req: L) => (status: NonNullable<J['status']>) => boolean;
}): JobServiceHandlers {
  const { store, bus, events } = opts;
  const jobIdOf = (value: string, field = 'job_id') => checkJobId(value, store.service, field);

  const getJob: UnaryHandler<{ jobId: string }, { job: J }> = async (req) => ({
    job: await store.get(jobIdOf(req.jobId)),
  });

  const listJobs: UnaryHandler<L, { jobs: NonNullable<J['status']>[]; nextPageToken: string }> = async (req) => {
    const extra = opts.listFilter?.(req) ?? (() => true);
    for (const [i, state] of req.states.entries()) requireKnownEnum(state, commonV1.JobState, `states[${i}]`);
    const page = await store.page(jobIdOf(req.pageToken, 'page_token'), Math.min(req.pageSize || 50, 500), (j) => {
      const s = j.status;
      return s !== undefined && (req.states.length === 0 || req.states.includes(s.state)) && extra(s);
    });
    return {
      jobs: page.jobs.flatMap((j) => (j.status ? [listed(j.status as NonNullable<J['status']>)] : [])),
      nextPageToken: page.nextPageToken,
    };
  };

  /**
   * A queued job ends here; a running one is asked to stop and ends at its worker's next progress check (the
   * answer still says RUNNING). Cancelling twice is the same request: a no-op.
   */
  const cancelJob: UnaryHandler<{ jobId: string }, { status: J['status'] }> = async (req) => {
    const jobId = jobIdOf(req.jobId);
    const job = await store.get(jobId);
    const state = job.status?.state ?? commonV1.JobState.JOB_STATE_UNSPECIFIED;
    if (state === commonV1.JobState.JOB_STATE_CANCELLED) return { status: job.status };
    if (isTerminal(state)) {
      throw new SiftError('failed_precondition', `job ${jobId} already finished (${commonV1.jobStateToJSON(state)})`);
    }
    await store.requestCancel(jobId);
    if (state !== commonV1.JobState.JOB_STATE_QUEUED) return { status: job.status };
    const cancelled = await endJob(store, bus, events, jobId, commonV1.JobState.JOB_STATE_CANCELLED);
    return { status: cancelled.status };
  };

  /** Current status first, then every change until the job is final. */
  const watchJob: StreamHandler = async (call, ctx) => {
    const jobId = jobIdOf((call as unknown as { request: { jobId: string } }).request.jobId);
    await streamJobStatus({
      current: async () => (await store.get(jobId)).status,
      subscribe: (onStatus) => bus.subscribe(events.progressed, jobId, (e) => onStatus(e.status)),
      write: (status) => call.write({ status }),
      signal: ctx.signal,
    });
  };

  return { getJob, listJobs, cancelJob, watchJob };
}

/**
 * `value` when it may be a job id; INVALID_ARGUMENT naming `field` when it is too long to be one, before the
 * job store repeats it in a message.
 */
export function checkJobId(value: string, service: string, field = 'job_id'): string {
  if (value.length > maxJobIdChars) {
    throw new SiftError(
      'invalid_argument',
      `${field} has ${value.length} characters; a ${service} job id has at most ${maxJobIdChars}`,
    );
  }
  return value;
}

/**
 * A job's status as ListJobs answers it: its error and stage cut to a few hundred characters, so a page of
 * 500 jobs stays far below the message limit even for records stored before errors were bounded.
 */
function listed<S extends { error: string; progress?: commonV1.Progress | undefined }>(status: S): S {
  return {
    ...status,
    error: echoed(status.error, maxJobErrorChars),
    ...(status.progress ? { progress: { ...status.progress, stage: echoed(status.progress.stage) } } : {}),
  };
}
