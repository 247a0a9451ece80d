import { isTerminal } from './file-job-store.js';

/** The fields of a service's JobStatus the watcher relies on. */
export interface WatchedStatus {
  state: number;
  updatedAtMs: number;
}

/**
 * The body of every WatchJob: writes the current status, then each newer one until the job is final or
 * the client goes away. Live events are the fast path; a slow poll of the stored job covers a watcher that
 * subscribed between two events (or missed one), and statuses older than the last written are skipped.
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
    const send = (status: S | undefined) => {
      if (!status || opts.signal.aborted) return;
      if (last && status.updatedAtMs < last.updatedAtMs) return;
      last = status;
      opts.write(status);
      if (isTerminal(status.state)) done();
    };
    const unsubscribe = opts.subscribe(send);
    const poll = setInterval(() => {
      opts.current().then(
        (s) => {
          if (s && last && s.updatedAtMs > last.updatedAtMs) send(s);
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
