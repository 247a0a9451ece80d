import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonV1, pruningV1, type selectionV1 } from '@sift/contracts';
import { startNats, waitUntil } from '@sift/launcher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, redeliveryDelayMs } from './bus.js';
import { subjects } from './subjects.js';

const submitted = (jobId: string): selectionV1.JobProgressed => ({
  status: {
    jobId,
    state: commonV1.JobState.JOB_STATE_QUEUED,
    progress: undefined,
    stageIndex: 0,
    stageCount: 0,
    error: '',
    updatedAtMs: 0,
  },
});

describe('Bus work queue on a real NATS server', () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let bus: Bus;
  beforeAll(async () => {
    nats = await startNats();
    bus = await Bus.connect(nats.url, 'work-queue-test');
  });
  afterAll(async () => {
    await bus.close();
    await nats.stop();
  });

  it('retries a failing message with backoff, drops it after its last delivery, and runs the next one', async () => {
    const seen: { jobId: string; deliveries: number }[] = [];
    const errors: string[] = [];
    const dropped = 'dropped a sift.selection.v1.job_submitted message after 3 failed deliveries';
    const stop = await bus.work(
      subjects.selectionJobSubmitted,
      'work-queue-test',
      async (m, deliveries) => {
        seen.push({ jobId: m.status?.jobId ?? '', deliveries });
        if (m.status?.jobId === 'poison') throw new Error('cannot run this one');
      },
      { retryDelayMs: 100, maxDeliveries: 3, onError: (err) => errors.push((err as Error).message) },
    );
    await bus.publish(subjects.selectionJobSubmitted, submitted('poison'));
    await bus.publish(subjects.selectionJobSubmitted, submitted('healthy'));
    await waitUntil(async () => seen.some((s) => s.jobId === 'healthy') && errors.includes(dropped), 10_000);
    // The drop (a term) reaches the server after the error is reported.
    await waitUntil(async () => {
      const lag = await bus.consumerLag('SIFT_JOBS', 'work-queue-test');
      return lag.pending === 0 && lag.ackPending === 0;
    }, 10_000);
    await stop();
    expect(seen.filter((s) => s.jobId === 'poison').map((s) => s.deliveries)).toEqual([1, 2, 3]);
    expect(seen.filter((s) => s.jobId === 'healthy').map((s) => s.deliveries)).toEqual([1]);
    expect(errors.filter((e) => e === 'cannot run this one')).toHaveLength(3);
    // Backoff before the 2nd and 3rd deliveries: 100 ms, then 200 ms; it doubles up to a minute.
    expect([1, 2, 3, 20].map((deliveries) => redeliveryDelayMs(100, deliveries))).toEqual([100, 200, 400, 60_000]);
  });

  it('runs the next message while a failing one waits out its retry delay, and lets two workers run at once', async () => {
    const started: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handle = async (m: pruningV1.JobProgressed) => {
      const id = m.status?.jobId ?? '';
      started.push(id);
      if (id === 'failing') throw new Error('not now');
      if (id.startsWith('slow')) await held;
    };
    // Two workers of one queue, as two replicas would run them; a minute before the failing one returns.
    // (The pruning subject: a work-queue stream takes one consumer per subject, the other tests use selection's.)
    const options = { retryDelayMs: 60_000, maxDeliveries: 2 };
    const stops = [
      await bus.work(subjects.pruningJobSubmitted, 'parallel-test', handle, options),
      await bus.work(subjects.pruningJobSubmitted, 'parallel-test', handle, options),
    ];
    const job = (jobId: string) => pruningV1.JobProgressed.fromPartial({ status: { jobId } });
    await bus.publish(subjects.pruningJobSubmitted, job('failing'));
    await bus.publish(subjects.pruningJobSubmitted, job('slow-1'));
    await bus.publish(subjects.pruningJobSubmitted, job('slow-2'));
    try {
      // Both slow messages are in their handlers at the same time, while 'failing' waits for its retry.
      await waitUntil(async () => started.includes('slow-1') && started.includes('slow-2'), 10_000);
      expect(started.filter((id) => id === 'failing')).toHaveLength(1);
    } finally {
      release();
      await Promise.all(stops.map((stop) => stop()));
    }
  });

  it('recreates its streams and consumers when the server comes back without its storage', async () => {
    const first = await startNats();
    const port = Number(new URL(first.url.replace('nats://', 'http://')).port);
    const restarted = await Bus.connect(first.url, 'work-queue-test-restart');
    const seen: string[] = [];
    const stopWorking = await restarted.work(subjects.selectionJobSubmitted, 'restart-workers', async (m) => {
      seen.push(m.status?.jobId ?? '');
    });
    await first.stop();
    const second = await startNats({ port }); // same address, empty JetStream storage
    try {
      await waitUntil(async () => {
        try {
          await restarted.publish(subjects.selectionJobSubmitted, submitted('after-restart'));
          return true;
        } catch {
          return false;
        }
      }, 15_000);
      await waitUntil(async () => seen.includes('after-restart'), 10_000);
    } finally {
      await stopWorking();
      await restarted.close();
      await second.stop();
    }
  });

  it('keeps a queued job across a server restart when the server keeps its storage folder', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'sift-nats-kept-'));
    try {
      const first = await startNats({ storeDir });
      const publisher = await Bus.connect(first.url, 'work-queue-test-kept');
      await publisher.publish(subjects.selectionJobSubmitted, submitted('queued-before-restart'));
      await publisher.close();
      await first.stop();
      const second = await startNats({ storeDir });
      const worker = await Bus.connect(second.url, 'work-queue-test-kept');
      const seen: string[] = [];
      const stopWorking = await worker.work(subjects.selectionJobSubmitted, 'kept-workers', async (m) => {
        seen.push(m.status?.jobId ?? '');
      });
      try {
        await waitUntil(async () => seen.includes('queued-before-restart'), 10_000);
      } finally {
        await stopWorking();
        await worker.close();
        await second.stop();
      }
    } finally {
      rmSync(storeDir, { recursive: true, force: true });
    }
  });

  it('answers UNAVAILABLE when NATS does not take a publish, and a worker still stops without it', async () => {
    const other = await startNats();
    const doomed = await Bus.connect(other.url, 'work-queue-test-doomed');
    const stopWorking = await doomed.work(subjects.selectionJobSubmitted, 'doomed-workers', async () => {});
    await other.stop();
    // A pull pending on a server that is gone never settles: stopping must not wait for it.
    await expect(stopWorking()).resolves.toBeUndefined();
    await expect(doomed.publish(subjects.selectionJobSubmitted, submitted('x'))).rejects.toMatchObject({
      kind: 'unavailable',
      message: expect.stringContaining('the event bus did not take sift.selection.v1.job_submitted'),
    });
    await doomed.close();
  });
});
