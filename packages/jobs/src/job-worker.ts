import { monitorEventLoopDelay } from 'node:perf_hooks';
import { commonV1 } from '@sift/contracts';
import { asSiftError, type Logger, SiftError } from '@sift/kit';
import { type FileJobStore, isTerminal, type JobRecord } from './file-job-store.js';

/** A job whose status carries progress (and, for staged jobs, the stage index). */
export interface ProgressingJob extends JobRecord {
  status?:
    | (NonNullable<JobRecord['status']> & { progress?: commonV1.Progress | undefined; stageIndex?: number })
    | undefined;
}

/** What a job body reports through: stage changes and throttled progress that also checks for cancel. */
export interface JobProgress {
  /**
   * Enters a stage (index: its position, for services whose status counts stages; unit: what its ticks count,
   * plural, e.g. "records"); throws once aborted.
   */
  stage(name: string, index?: number, unit?: string): void;
  /**
   * Units done in the current stage; throws once the job is cancelled or the worker stops. A `unit` replaces
   * the stage's from this tick on (a stage whose phases count different things).
   */
  tick(done: number, total: number, unit?: string): void;
}

/** Least time between two progress writes of one job: a million records must not mean a million events. */
const progressIntervalMs = 250;

/** A {@link JobProgress} that can also say when the progress writes queued so far have landed. */
export interface JobProgressReporter extends JobProgress {
  /** Resolves once every write queued so far has been recorded (or dropped, and logged). */
  written(): Promise<void>;
}

/**
 * Stage bookkeeping plus a throttled tick that records progress (with an ETA from the stage's rate) in the
 * job store, publishes the new status, and aborts `controller` when a client asked to cancel. Writes are
 * chained, so they land in order and never block the job's computation.
 */
export function jobProgressReporter<J extends ProgressingJob>(opts: {
  jobId: string;
  store: FileJobStore<J>;
  controller: AbortController;
  publish: (status: J['status']) => Promise<void>;
  logger: Logger;
  /** Milliseconds on a monotonic clock; `performance.now` unless a test steps its own clock. */
  now?: () => number;
}): JobProgressReporter {
  const { jobId, store, controller } = opts;
  const clock = opts.now ?? (() => performance.now());
  let stage = '';
  let stageIndex: number | undefined;
  let stageStarted = clock();
  let stageTotal = 0;
  let unit = '';
  let last = 0;
  let writing: Promise<void> = Promise.resolve();
  const record = (done: number, total: number) => {
    const elapsed = (clock() - stageStarted) / 1000;
    const eta = done > 0 && total > 0 ? (elapsed * (total - done)) / done : -1;
    const [name, index, counted] = [stage, stageIndex, unit];
    writing = writing
      .then(async () => {
        if ((await store.run(jobId)).cancelRequested) {
          controller.abort(new SiftError('cancelled', 'cancelled by a client'));
        }
        let final = false;
        const job = await store.update(jobId, (j) => {
          // A tick queued before the job ended must not rewrite the final status's progress.
          final = isTerminal(j.status?.state ?? 0);
          if (!j.status || final) return;
          j.status.progress = { stage: name, done, total, etaSeconds: eta, unit: counted };
          if (index !== undefined) j.status.stageIndex = index;
        });
        if (!final) await opts.publish(job.status);
      })
      .catch((err: unknown) => opts.logger.warn('progress not recorded', { jobId, err }));
  };
  const throwIfAborted = () => {
    if (controller.signal.aborted) throw controller.signal.reason;
  };
  return {
    stage: (name, index, stageUnit) => {
      throwIfAborted();
      stage = name;
      stageIndex = index;
      unit = stageUnit ?? '';
      stageStarted = clock();
      stageTotal = 0;
      last = 0;
      record(0, 0);
    },
    tick: (done, total, tickUnit) => {
      throwIfAborted();
      const now = clock();
      if (tickUnit !== undefined) unit = tickUnit;
      // A new total is a new phase of the stage (text quality: the weights, then the documents): its ETA
      // comes from its own rate, not from the time the earlier phase took.
      if (total !== stageTotal) {
        stageTotal = total;
        stageStarted = now;
      }
      // At most one status write per interval, except the tick that completes a stage of known size. A
      // tick with an unknown total (0, e.g. while reading a dataset) is throttled like any other: not
      // throttling it wrote the job file and published a status for every 1,000 records read.
      const completes = total > 0 && done >= total;
      if (now - last < progressIntervalMs && !completes) return;
      last = now;
      record(done, total);
    },
    written: () => writing,
  };
}

/**
 * What a failed job says. An unexpected error (from ONNX Runtime, say: "input 'ids' is missing in 'feeds'")
 * keeps its own message: the job's owner has no other way to learn it than the service log.
 */
function failureReason(e: SiftError): string {
  if (e.kind !== 'internal' || !(e.cause instanceof Error)) return e.message;
  return `internal error: ${e.cause.message.slice(0, 500)} (details in the service log)`;
}

/** Starts after which a job whose worker keeps dying is failed instead of started again. */
const maxStarts = 8;

/** How often a running job's worker looks for a client's cancel besides its progress ticks. */
export const cancelPollMs = 1000;

/**
 * A worker of queued jobs. Subclasses implement the job body (`execute`) and how a job is recorded as
 * final (`settle`); this class owns what every worker shares: a job already final is left alone; a body
 * that throws fails the job (or cancels it, when a client asked to); but when the worker itself is
 * stopping the error is rethrown and the job left RUNNING, so that the work queue hands it to another
 * replica. `run` never throws for job-level failures.
 */
export abstract class JobWorker<J extends JobRecord> {
  private current: AbortController | undefined;
  private shuttingDown = false;

  constructor(
    protected readonly store: FileJobStore<J>,
    protected readonly logger: Logger,
    /** The service's name, for the shutdown reason. */
    private readonly service: string,
  ) {}

  /** The job's work; `controller` aborts it (cancel, shutdown); progress ticks should throw once aborted. */
  protected abstract execute(job: J, controller: AbortController, log: Logger): Promise<void>;

  /** Records the job as failed or cancelled with `error`, and announces it. */
  protected abstract settle(jobId: string, state: commonV1.JobState, error: string): Promise<void>;

  /**
   * Runs (or resumes) one job to a final state. A job that no longer exists, or whose record cannot be read,
   * is logged and let go: running its message again could never succeed, and would hold the queue.
   */
  async run(jobId: string, deliveries = 1): Promise<void> {
    let job: J;
    try {
      job = await this.store.get(jobId);
    } catch (err) {
      const e = asSiftError(err);
      // An id that is not one (an empty or forged message), an unknown job, an unreadable record: no retry
      // can run it, and retrying would hold the queue for minutes.
      if (e.kind !== 'not_found' && e.kind !== 'failed_precondition' && e.kind !== 'invalid_argument') throw err;
      this.logger.error('queued job cannot be run; dropping its message', { jobId, reason: e.message });
      return;
    }
    if (isTerminal(job.status?.state ?? 0)) return;
    const log = this.logger.child({ jobId });
    try {
      await this.store.run(jobId);
    } catch (err) {
      const e = asSiftError(err);
      if (e.kind !== 'failed_precondition') throw err;
      // The job's own record is readable: it can be failed with the reason, instead of being retried into a
      // misleading "started 8 times".
      log.error('job cannot be run', { reason: e.message });
      await this.settle(jobId, commonV1.JobState.JOB_STATE_FAILED, e.message);
      return;
    }
    if (deliveries > maxStarts) {
      // Each earlier start ended with its worker gone (killed, out of memory) before the job did: starting
      // it again would take the next worker down the same way.
      const reason = `the job was started ${deliveries - 1} times and its worker stopped each time before it finished (out of memory, or killed); see the service logs`;
      log.error('giving up on a job', { reason });
      await this.settle(jobId, commonV1.JobState.JOB_STATE_FAILED, reason);
      return;
    }
    const controller = new AbortController();
    this.current = controller;
    // How long the event loop was held at a stretch while the job ran: RPCs, progress writes and the work
    // queue's heartbeats wait that long (a stretch beyond the ack wait gets the job redelivered elsewhere).
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    // A cancel also reaches the job between its progress ticks, which a long model call can space tens of
    // seconds apart: every step that takes the signal (model calls between batches) stops within a poll.
    const cancelPoll = setInterval(() => {
      this.store.run(jobId).then(
        (run) => run.cancelRequested && controller.abort(new SiftError('cancelled', 'cancelled by a client')),
        () => {},
      );
    }, cancelPollMs).unref();
    try {
      await this.execute(job, controller, log);
    } catch (err) {
      if (this.shuttingDown) {
        log.info('worker stopping; the job will be picked up again');
        throw err;
      }
      const e = asSiftError(err);
      // A job already final stays so: e.g. its outputs are written and SUCCEEDED saved, and only announcing
      // it failed (NATS down) — that is for the log, not a reason to call the job failed.
      if (isTerminal((await this.store.get(jobId)).status?.state ?? 0)) {
        log.error('job is final; a step after that failed', { err: e.cause ?? e });
        return;
      }
      const cancelled = (await this.store.run(jobId)).cancelRequested;
      if (!cancelled) log.error('job failed', { err: e.cause ?? e });
      await this.settle(
        jobId,
        cancelled ? commonV1.JobState.JOB_STATE_CANCELLED : commonV1.JobState.JOB_STATE_FAILED,
        cancelled ? 'cancelled by a client' : failureReason(e),
      );
    } finally {
      clearInterval(cancelPoll);
      loopDelay.disable();
      log.info('job ended', { eventLoopMaxDelayMs: Math.round(loopDelay.max / 1e6) });
      this.current = undefined;
    }
  }

  /** Stops the running job at its next progress tick without failing it (it runs again after redelivery). */
  shutdown(): void {
    this.shuttingDown = true;
    this.current?.abort(new SiftError('unavailable', `${this.service} worker is shutting down`));
  }
}
