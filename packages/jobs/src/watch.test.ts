import { commonV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { MAX_CLOCK_SKEW_MS, streamJobStatus, type WatchedStatus } from './watch.js';

const { JOB_STATE_QUEUED: QUEUED, JOB_STATE_RUNNING: RUNNING, JOB_STATE_SUCCEEDED: SUCCEEDED } = commonV1.JobState;

interface Status extends WatchedStatus {
  note: string;
}

/**
 * One watch over a job whose stored status is `stored` (changed by the test) and whose events the test
 * publishes through `publish`; `written` collects what the watcher sent to its client, `ended` settles when
 * the watch returns.
 */
function watch(first: Status, pollMs = 20) {
  const box = { stored: first };
  const listeners = new Set<(s: Status | undefined) => void>();
  const written: string[] = [];
  const abort = new AbortController();
  const ended = streamJobStatus<Status>({
    current: async () => box.stored,
    subscribe: (on) => {
      listeners.add(on);
      return () => listeners.delete(on);
    },
    write: (s) => written.push(s?.note ?? 'none'),
    signal: abort.signal,
    pollMs,
  });
  const publish = (s: Status | undefined) => {
    for (const on of listeners) on(s);
  };
  return { box, publish, written, ended, abort, listeners };
}

const at = (state: number, updatedAtMs: number, note: string): Status => ({ state, updatedAtMs, note });

describe('streamJobStatus', () => {
  it('writes the stored status, then each newer event, and ends on a final one', async () => {
    const t = Date.now();
    const w = watch(at(QUEUED, t, 'queued'), 60_000);
    await Promise.resolve();
    w.publish(at(RUNNING, t + 1, 'running'));
    w.publish(at(RUNNING, t, 'stale'));
    w.publish(undefined);
    w.publish(at(SUCCEEDED, t + 2, 'succeeded'));
    await w.ended;
    expect(w.written).toEqual(['queued', 'running', 'succeeded']);
    expect(w.listeners.size).toBe(0);
  });

  it('returns at once when the stored job is already final', async () => {
    const w = watch(at(SUCCEEDED, Date.now(), 'done'));
    await w.ended;
    expect(w.written).toEqual(['done']);
    expect(w.listeners.size).toBe(0);
  });

  it('ignores an event stamped further ahead than the clock skew allows, so honest events still get through', async () => {
    const t = Date.now();
    const w = watch(at(QUEUED, t, 'queued'), 60_000);
    await Promise.resolve();
    w.publish(at(RUNNING, t + MAX_CLOCK_SKEW_MS + 3_600_000, 'from the future'));
    w.publish(at(RUNNING, t + 1, 'running'));
    w.publish(at(SUCCEEDED, t + 2, 'succeeded'));
    await w.ended;
    expect(w.written).toEqual(['queued', 'running', 'succeeded']);
  });

  it('ends with the stored final status even after an event whose time is later than it', async () => {
    const t = Date.now();
    const w = watch(at(QUEUED, t, 'queued'));
    await Promise.resolve();
    // Within the skew allowance, so written; the final event that follows is missed by this watcher.
    w.publish(at(RUNNING, t + MAX_CLOCK_SKEW_MS / 2, 'running, clock ahead'));
    w.box.stored = at(SUCCEEDED, t + 5, 'succeeded (stored)');
    await w.ended;
    expect(w.written).toEqual(['queued', 'running, clock ahead', 'succeeded (stored)']);
  });

  it('picks up a change from the stored job when its event was missed', async () => {
    const t = Date.now();
    const w = watch(at(QUEUED, t, 'queued'));
    await Promise.resolve();
    w.box.stored = at(RUNNING, t + 1, 'running (stored)');
    await new Promise((r) => setTimeout(r, 80));
    w.publish(at(SUCCEEDED, t + 2, 'succeeded'));
    await w.ended;
    expect(w.written).toEqual(['queued', 'running (stored)', 'succeeded']);
  });

  it('stops when the client goes away, writing nothing more', async () => {
    const t = Date.now();
    const w = watch(at(QUEUED, t, 'queued'));
    await Promise.resolve();
    w.abort.abort();
    w.publish(at(RUNNING, t + 1, 'running'));
    await w.ended;
    expect(w.written).toEqual(['queued']);
    expect(w.listeners.size).toBe(0);
  });
});
