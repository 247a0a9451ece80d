import { SiftError } from '@sift/kit';

/** How the batcher groups work (Triton-style dynamic batching, configured per model). */
export interface BatcherOptions {
  /** Most items in one model call. */
  maxBatchSize: number;
  /** Most padded tokens (batch size x longest item) in one model call. */
  maxBatchTokens: number;
  /**
   * How long the oldest queued item may wait for company while the model is idle. 0 (the default in the
   * services) runs at once when idle: items that arrive while a batch computes form the next batch, so
   * batches grow with load without adding latency at low load.
   */
  maxQueueDelayMs: number;
  /** Items allowed to wait; a request that would exceed it gets RESOURCE_EXHAUSTED. */
  maxQueueItems: number;
  /**
   * `dynamic` merges items of concurrent requests into shared batches; `per-request` runs each request's
   * items on their own (the baseline the benchmark compares against).
   */
  mode: 'dynamic' | 'per-request';
}

/** Anything with a token count can be batched. */
export interface Batchable {
  readonly fedTokens: number;
}

/** The outputs of one request, in its input order, with where its time went. */
export interface BatchedResult<O> {
  outputs: O[];
  /** From submit until the first batch holding one of its items started. */
  queueMs: number;
  /** Model time of the batches that held its items. */
  computeMs: number;
  /** Sizes of those batches. */
  batchSizes: number[];
}

interface Pending<I, O> {
  items: I[];
  outputs: (O | undefined)[];
  remaining: number;
  submittedAt: number;
  startedAt: number | undefined;
  computeMs: number;
  batchSizes: number[];
  settled: boolean;
  /** Removes the abort listener; a long stream's signal would otherwise hold every request it ever made. */
  detach(): void;
  resolve(r: BatchedResult<O>): void;
  reject(err: unknown): void;
}

interface Entry<I, O> {
  request: Pending<I, O>;
  index: number;
  enqueuedAt: number;
}

/**
 * Groups items from concurrent requests into model calls bounded by batch size and padded tokens, waiting
 * at most `maxQueueDelayMs` for a batch to fill. One batch runs at a time: the runtime already uses every
 * core for one call, and items that arrive meanwhile form the next batch.
 */
export class DynamicBatcher<I extends Batchable, O> {
  private queue: Entry<I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private counters = { batches: 0, items: 0, rejectedFull: 0 };

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    readonly options: BatcherOptions,
  ) {}

  /** Queues a request's items; resolves when all of them are computed. */
  submit(items: I[], signal?: AbortSignal): Promise<BatchedResult<O>> {
    if (items.length === 0) return Promise.resolve({ outputs: [], queueMs: 0, computeMs: 0, batchSizes: [] });
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (items.length > this.options.maxQueueItems) {
      // Retrying cannot help a request that would not fit even an empty queue.
      return Promise.reject(
        new SiftError(
          'invalid_argument',
          `${items.length} inputs are more than the queue ever holds (${this.options.maxQueueItems}); split the request`,
        ),
      );
    }
    if (this.queue.length + items.length > this.options.maxQueueItems) {
      this.counters.rejectedFull++;
      return Promise.reject(
        new SiftError(
          'resource_exhausted',
          `embedding queue is full (${this.queue.length} items waiting, limit ${this.options.maxQueueItems}); retry with backoff`,
        ),
      );
    }
    return new Promise<BatchedResult<O>>((resolve, reject) => {
      const now = performance.now();
      const request: Pending<I, O> = {
        items,
        outputs: new Array(items.length),
        remaining: items.length,
        submittedAt: now,
        startedAt: undefined,
        computeMs: 0,
        batchSizes: [],
        settled: false,
        detach: () => signal?.removeEventListener('abort', onAbort),
        resolve,
        reject,
      };
      const onAbort = () => {
        if (request.settled) return;
        this.queue = this.queue.filter((e) => e.request !== request);
        this.settle(request, signal?.reason);
      };
      for (let i = 0; i < items.length; i++) this.queue.push({ request, index: i, enqueuedAt: now });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.schedule();
    });
  }

  /** Items waiting right now. */
  queued(): number {
    return this.queue.length;
  }

  /** Totals since start: model calls, items computed, requests refused for a full queue. */
  stats(): { batches: number; items: number; rejectedFull: number } {
    return { ...this.counters };
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const first = this.queue[0] as Entry<I, O>;
    const full = this.options.mode === 'per-request' || this.takeCount() < this.queue.length || this.isFull();
    const waited = performance.now() - first.enqueuedAt;
    if (full || waited >= this.options.maxQueueDelayMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.runBatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.options.maxQueueDelayMs - waited);
    }
  }

  private isFull(): boolean {
    return this.queue.length >= this.options.maxBatchSize;
  }

  /** How many queued items the next batch takes under the size and padded-token limits. */
  private takeCount(): number {
    let longest = 0;
    let n = 0;
    const sameRequest = this.options.mode === 'per-request' ? this.queue[0]?.request : undefined;
    for (const e of this.queue) {
      if (n >= this.options.maxBatchSize) break;
      if (sameRequest && e.request !== sameRequest) break;
      const tokens = Math.max(1, e.request.items[e.index]?.fedTokens ?? 1);
      const nextLongest = Math.max(longest, tokens);
      if (n > 0 && (n + 1) * nextLongest > this.options.maxBatchTokens) break;
      longest = nextLongest;
      n++;
    }
    return n;
  }

  private async runBatch(): Promise<void> {
    this.running = true;
    const batch = this.queue.splice(0, this.takeCount());
    const started = performance.now();
    for (const e of batch) e.request.startedAt ??= started;
    try {
      const outputs = await this.run(batch.map((e) => e.request.items[e.index] as I));
      const computeMs = performance.now() - started;
      this.counters.batches++;
      this.counters.items += batch.length;
      const seen = new Set<Pending<I, O>>();
      batch.forEach((e, i) => {
        const r = e.request;
        if (r.settled) return;
        if (!seen.has(r)) {
          seen.add(r);
          r.computeMs += computeMs;
          r.batchSizes.push(batch.length);
        }
        r.outputs[e.index] = outputs[i];
        if (--r.remaining === 0) this.settle(r);
      });
    } catch (err) {
      for (const e of batch) {
        this.queue = this.queue.filter((q) => q.request !== e.request);
        this.settle(e.request, err);
      }
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private settle(r: Pending<I, O>, err?: unknown): void {
    if (r.settled) return;
    r.settled = true;
    r.detach();
    if (err !== undefined) {
      r.reject(err);
      return;
    }
    r.resolve({
      outputs: r.outputs as O[],
      queueMs: (r.startedAt ?? r.submittedAt) - r.submittedAt,
      computeMs: r.computeMs,
      batchSizes: r.batchSizes,
    });
  }
}
