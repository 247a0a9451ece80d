import type { ClientReadableStream } from '@grpc/grpc-js';
import { Bus, type Subject } from '@sift/bus';
import { commonV1 } from '@sift/contracts';
import { waitUntil } from '@sift/launcher';
import { expect } from 'vitest';

/** A job status as the gateway relays it: protobuf JSON of JobStatus. */
export interface RelayedStatus {
  state?: string;
  error?: string;
  progress?: { stage?: string; done?: string; total?: string; unit?: string };
  [field: string]: unknown;
}

/** The statuses a finished Server-Sent Events response relayed, as the JSON objects of its `data:` lines. */
export async function relayedStatuses(events: Response): Promise<RelayedStatus[]> {
  return (await events.text())
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
}

/**
 * Follows a WatchJob stream: `statuses` fills as they arrive, `ended` resolves when the server ends the
 * stream (the job reached a final state) and rejects on a stream error.
 */
export function followWatch<S>(stream: ClientReadableStream<{ status?: S }>): { statuses: S[]; ended: Promise<void> } {
  const statuses: S[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('data', (m: { status?: S }) => m.status && statuses.push(m.status));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  return { statuses, ended };
}

/**
 * Every message the event stream holds of `subject` (all keys of a keyed one), oldest first, read through a
 * new durable consumer (`durable`) from the stream's start: what was published before the call counts, so
 * a test reads events after the jobs that publish them have ended, without racing a live subscription.
 */
export async function storedEvents<T>(natsUrl: string, subject: Subject<T>, durable: string): Promise<T[]> {
  const bus = await Bus.connect(natsUrl, 'e2e-observer');
  const events: T[] = [];
  try {
    const stop = await bus.consume(subject, durable, async (batch) => {
      for (const d of batch) {
        events.push(d.message);
        d.ack();
      }
    });
    await waitUntil(async () => {
      const lag = await bus.consumerLag(subject.stream, durable);
      return lag.pending === 0 && lag.ackPending === 0;
    }, 10_000);
    await stop();
  } finally {
    await bus.close();
  }
  return events;
}

/**
 * What every job service promises of a cancel, checked with watchers connected before it (`events`: the
 * queued job's Server-Sent Events; `watch`: the running job's WatchJob): the queued job is CANCELLED at once,
 * as the HTTP answer says and its event stream relays (QUEUED, then CANCELLED); the running one answers
 * RUNNING (it stops at its next check) and its WatchJob stream ends CANCELLED by a client.
 */
export async function expectCancelsEnd<S extends { state: commonV1.JobState; error: string }>(opts: {
  events: Response;
  watch: ClientReadableStream<{ status?: S }>;
  queued: string;
  cancelQueued: () => Promise<{ status: number; body: { status?: unknown } }>;
  cancelRunning: () => Promise<{ status?: S }>;
}): Promise<void> {
  const { statuses: watched, ended } = followWatch<S>(opts.watch);
  await waitUntil(async () => watched.length > 0, 10_000, 10);
  const httpCancel = await opts.cancelQueued();
  expect(httpCancel.status).toBe(200);
  expect(httpCancel.body.status).toMatchObject({ jobId: opts.queued, state: 'JOB_STATE_CANCELLED' });
  const relayed = await relayedStatuses(opts.events);
  expect(relayed.map((s) => s.state)).toEqual(['JOB_STATE_QUEUED', 'JOB_STATE_CANCELLED']);
  const grpcCancel = await opts.cancelRunning();
  expect(grpcCancel.status?.state).toBe(commonV1.JobState.JOB_STATE_RUNNING);
  await ended;
  expect(watched[0]?.state).toBe(commonV1.JobState.JOB_STATE_RUNNING);
  expect(watched.at(-1)).toMatchObject({
    state: commonV1.JobState.JOB_STATE_CANCELLED,
    error: 'cancelled by a client',
  });
}
