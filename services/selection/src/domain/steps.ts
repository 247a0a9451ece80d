/** How far a long computation is: `done` of `total` units (records, for the per-record passes). */
export interface StepProgress {
  readonly done: number;
  readonly total: number;
}

/**
 * A long domain computation written as a generator: it yields its progress every {@link recordsPerStep}
 * records and returns its result. The job pipeline runs it with pauses in between (`runCooperatively`),
 * so a stage over millions of records lets the service answer RPCs and send the work queue's heartbeats
 * (JetStream hands a job whose worker stays silent for the ack wait to another replica); `runToEnd` runs
 * it in one go, as tests and benchmarks do.
 */
export type Steps<R> = Generator<StepProgress, R, void>;

/** Records a per-record pass handles between two progress yields (a few milliseconds of work at most). */
export const recordsPerStep = 128;

/** Runs `steps` to its result without pausing. */
export function runToEnd<R>(steps: Steps<R>): R {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}
