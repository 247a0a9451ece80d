import { isTerminal } from './file-job-store.js';

/** The fields of a service's JobStatus the watcher relies on. */
export interface WatchedStatus {
  state: number;
  updatedAtMs: number;
}

/**
 * How far ahead of this process's clock a status time may lie and still be believed: replicas on other
 * hosts stamp statuses with their own clocks. A status further ahead would make every later, honest status
 * look stale to the watcher, so it is not written.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * The body of every WatchJob: writes the current status, then each newer one until the job is final or
 * the client goes away. Live events are the fast path; a slow poll of the stored job covers a watcher that
 * subscribed between two events (or missed one), and statuses older than the last written are skipped.
 * The stored job has the last word: when it is final the watch ends with it, whatever times the events
 * carried, so a stray event (a clock far ahead, a damaged message) can delay a watch by one poll, never
 * hold it open.
 */
export async function streamJobStatus<S extends WatchedStatus>(opts: {
  current: () => Promise<S | undefined>;
  subscribe: (onStatus: (status: S | undefined) => void) => () => void;
  write: (status: S | undefined) => void;
  signal: AbortSignal;
  pollMs?: number;
}): Promise<void> {
  let last = await opts.current();
  opts.write(last);
  if (isTerminal(last?.state ?? 0)) return;
  await new Promise<void>((resolve) => {
    const send = (status: S) => {
      if (opts.signal.aborted) return;
      last = status;
      opts.write(status);
      if (isTerminal(status.state)) done();
    };
    const onEvent = (status: S | undefined) => {
      if (!status || !Number.isFinite(status.updatedAtMs)) return;
      if (status.updatedAtMs > Date.now() + MAX_CLOCK_SKEW_MS) return;
      if (last && status.updatedAtMs < last.updatedAtMs) return;
      send(status);
    };
    const unsubscribe = opts.subscribe(onEvent);
    const poll = setInterval(() => {
      opts.current().then(
        (s) => {
          if (!s) return;
          if (isTerminal(s.state) || !last || s.updatedAtMs > last.updatedAtMs) send(s);
        },
        () => {},
      );
    }, opts.pollMs ?? 1000);
    const done = () => {
      clearInterval(poll);
      unsubscribe();
      resolve();
    };
    opts.signal.addEventListener('abort', done, { once: true });
  });
}
