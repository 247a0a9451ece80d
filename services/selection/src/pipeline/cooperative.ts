import { TimeSlicer } from '@sift/kit';
import type { Steps } from '../domain/index.js';

/**
 * Longest stretch of computation between two turns of the event loop. Short, because one turn advances an
 * asynchronous chain (a file read, a progress write, an RPC) by one step only: with 10 ms slices a job-file
 * update of ~10 steps lands in ~0.1 s; a turn itself costs microseconds.
 */
const maxSliceMs = 10;

/**
 * Runs a domain generator (`Steps`) inside a job: reports each progress yield (the job's tick, which throws
 * once the job is cancelled, so a long pass stops mid-way) and gives the event loop a turn at least every
 * 10 ms, so RPCs are answered and the work queue's heartbeats go out while a stage crunches millions of
 * records.
 */
export async function runCooperatively<R>(
  steps: Steps<R>,
  progress: (done: number, total: number) => void,
): Promise<R> {
  const slicer = new TimeSlicer(maxSliceMs);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    progress(next.value.done, next.value.total);
    if (slicer.due()) await slicer.pause();
  }
}
