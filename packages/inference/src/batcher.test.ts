import { getEventListeners } from 'node:events';
import { SiftError } from '@sift/kit';
import { describe, expect, it, vi } from 'vitest';
import { type BatcherOptions, DynamicBatcher } from './batcher.js';

interface Item {
  fedTokens: number;
  id: string;
}
const item = (id: string, fedTokens = 1): Item => ({ id, fedTokens });
const options = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  maxBatchSize: 64,
  maxBatchTokens: 10_000,
  maxQueueDelayMs: 20,
  maxQueueItems: 100,
  mode: 'dynamic',
  ...o,
});

/** A batcher whose model call records the ids of each batch and echoes ids upper-cased. */
function recording(o: Partial<BatcherOptions> = {}, delayMs = 5) {
  const batches: string[][] = [];
  const batcher = new DynamicBatcher<Item, string>(async (items) => {
    batches.push(items.map((i) => i.id));
    await new Promise((r) => setTimeout(r, delayMs));
    return items.map((i) => i.id.toUpperCase());
  }, options(o));
  return { batcher, batches };
}

describe('DynamicBatcher', () => {
  it('merges concurrent requests into one model call and returns each its own outputs in order', async () => {
    const { batcher, batches } = recording();
    const [a, b, c] = await Promise.all([
      batcher.submit([item('a1'), item('a2')]),
      batcher.submit([item('b1')]),
      batcher.submit([item('c1'), item('c2')]),
    ]);
    expect(batches).toEqual([['a1', 'a2', 'b1', 'c1', 'c2']]);
    expect(a?.outputs).toEqual(['A1', 'A2']);
    expect(b?.outputs).toEqual(['B1']);
    expect(c?.outputs).toEqual(['C1', 'C2']);
    expect(a?.batchSizes).toEqual([5]);
    expect(a?.computeMs).toBeGreaterThan(0);
  });

  it('splits work at maxBatchSize', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 4 });
    const r = await batcher.submit(Array.from({ length: 10 }, (_, i) => item(`x${i}`)));
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(r.outputs).toHaveLength(10);
    expect(r.outputs[9]).toBe('X9');
  });

  it('bounds padded tokens: batch size times the longest item stays within maxBatchTokens', async () => {
    const { batcher, batches } = recording({ maxBatchTokens: 100 });
    await batcher.submit([item('s1', 10), item('s2', 10), item('long', 40), item('s3', 10), item('s4', 10)]);
    // [s1, s2] = 2x10; adding long would pad to 3x40 = 120 > 100. [long, s3] = 2x40 = 80; s4 would make 120.
    expect(batches).toEqual([['s1', 's2'], ['long', 's3'], ['s4']]);
  });

  it('never mixes requests in per-request mode', async () => {
    const { batcher, batches } = recording({ mode: 'per-request' });
    await Promise.all([batcher.submit([item('a1'), item('a2')]), batcher.submit([item('b1')])]);
    expect(batches).toEqual([['a1', 'a2'], ['b1']]);
  });

  it('refuses a request that would overfill the queue with RESOURCE_EXHAUSTED', async () => {
    const { batcher } = recording({ maxQueueItems: 3, maxQueueDelayMs: 50 });
    const first = batcher.submit([item('a'), item('b')]);
    const err = await batcher.submit([item('c'), item('d')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiftError);
    expect((err as SiftError).kind).toBe('resource_exhausted');
    expect((err as SiftError).message).toContain('limit 3');
    await expect(first).resolves.toMatchObject({ outputs: ['A', 'B'] });
    expect(batcher.stats().rejectedFull).toBe(1);
  });

  it('refuses a request larger than the whole queue with INVALID_ARGUMENT, since no retry could succeed', async () => {
    const { batcher, batches } = recording({ maxQueueItems: 3 });
    const err = await batcher.submit([item('a'), item('b'), item('c'), item('d')]).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'invalid_argument' });
    expect((err as SiftError).message).toContain('4 inputs are more than the queue ever holds (3)');
    await expect(batcher.submit([item('e')])).resolves.toMatchObject({ outputs: ['E'] });
    expect(batches).toEqual([['e']]);
  });

  it('drops a request whose signal aborts while it waits, without computing its items', async () => {
    const { batcher, batches } = recording({ maxQueueDelayMs: 50 });
    const controller = new AbortController();
    const doomed = batcher.submit([item('late')], controller.signal);
    const kept = batcher.submit([item('kept')]);
    controller.abort(new SiftError('deadline_exceeded', 'deadline passed'));
    await expect(doomed).rejects.toMatchObject({ kind: 'deadline_exceeded' });
    await expect(kept).resolves.toMatchObject({ outputs: ['KEPT'] });
    expect(batches).toEqual([['kept']]);
  });

  it('lets go of each request once it settles, so one long-lived signal (a stream) does not hold them all', async () => {
    const { batcher } = recording({ maxQueueDelayMs: 0 }, 0);
    const stream = new AbortController();
    for (let chunk = 0; chunk < 300; chunk++) await batcher.submit([item(`c${chunk}`)], stream.signal);
    expect(getEventListeners(stream.signal, 'abort')).toHaveLength(0);
    const failing = new DynamicBatcher<Item, string>(async () => Promise.reject(new Error('model failed')), options());
    await expect(failing.submit([item('x')], stream.signal)).rejects.toThrow('model failed');
    expect(getEventListeners(stream.signal, 'abort')).toHaveLength(0);
  });

  it('fails every request of a failing batch and keeps serving the next ones', async () => {
    let fail = true;
    const batcher = new DynamicBatcher<Item, string>(
      async (items) => {
        if (fail) {
          fail = false;
          throw new Error('model crashed');
        }
        return items.map((i) => i.id);
      },
      options({ maxQueueDelayMs: 1 }),
    );
    await expect(batcher.submit([item('a')])).rejects.toThrow('model crashed');
    await expect(batcher.submit([item('b')])).resolves.toMatchObject({ outputs: ['b'] });
  });

  it('waits at most maxQueueDelayMs for company', async () => {
    vi.useFakeTimers();
    try {
      const { batcher, batches } = recording({ maxQueueDelayMs: 30 }, 0);
      const result = batcher.submit([item('alone')]);
      await vi.advanceTimersByTimeAsync(29);
      expect(batches).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(batches).toEqual([['alone']]);
      await vi.runAllTimersAsync();
      expect((await result).queueMs).toBe(30);
    } finally {
      vi.useRealTimers();
    }
  });
});
