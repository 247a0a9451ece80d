import type { commonV1 } from '@sift/contracts';
import type { FinishedCall, Logger } from '@sift/kit';
import type { Bus } from './bus.js';
import { subjects } from './subjects.js';

export interface RequestMetricsOptions {
  /** Longest a finished call waits before its batch is published; default 250 ms. */
  maxDelayMs?: number;
  /** A batch is published at once when it reaches this many calls; default 1,000. */
  maxBatch?: number;
}

/**
 * The `onCallFinished` hook of a server: collects finished calls and publishes them as one
 * requests_completed event per `maxDelayMs` (or per `maxBatch` calls). One JetStream publish per call cost
 * the embedding service ~0.15 ms of CPU per call and ~30% of its throughput at 32 concurrent callers
 * (bench/README.md); a batch costs that once. Publishing is fire-and-forget: a slow or absent NATS never
 * delays or fails the calls it describes; failures are logged with the number of calls lost. `close()`
 * publishes what is buffered (call it before closing the bus).
 */
export class RequestMetricsPublisher {
  private buffer: commonV1.RequestCompleted[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly maxDelayMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    opts: RequestMetricsOptions = {},
  ) {
    this.maxDelayMs = opts.maxDelayMs ?? 250;
    this.maxBatch = opts.maxBatch ?? 1000;
  }

  /** Records one finished call (bound, so it can be passed as `onCallFinished`). */
  readonly record = (call: FinishedCall): void => {
    this.buffer.push({
      service: call.service,
      method: call.method,
      status: call.status,
      latencyMs: call.latencyMs,
      batchSize: call.batchSize,
      model: call.model,
      finishedAtMs: Date.now(),
      httpStatus: call.httpStatus ?? 0,
    });
    if (this.buffer.length >= this.maxBatch) this.publish();
    else this.timer ??= setTimeout(() => this.publish(), this.maxDelayMs).unref();
  };

  /** Publishes what is buffered and waits for every publish still in flight. */
  async close(): Promise<void> {
    this.publish();
    await Promise.all(this.pending);
  }

  private publish(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const requests = this.buffer;
    this.buffer = [];
    const sent = this.bus
      .publish(subjects.requestsCompleted, { requests })
      .catch((err: unknown) => this.logger.warn('request metrics not published', { err, calls: requests.length }))
      .finally(() => this.pending.delete(sent));
    this.pending.add(sent);
  }
}
