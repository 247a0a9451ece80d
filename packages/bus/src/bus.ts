import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { SiftError } from '@sift/kit';
import type { StreamName, Subject } from './subjects.js';
import { filterFor, streams, subjectFor } from './subjects.js';

/**
 * How long a work-queue message waits for its next delivery after failing its `deliveries`-th:
 * `retryDelayMs` after the first failure, doubled after each further one, at most a minute. Exported so
 * that the backoff can be tested without timing redeliveries.
 */
export function redeliveryDelayMs(retryDelayMs: number, deliveries: number): number {
  return Math.min(60_000, retryDelayMs * 2 ** (deliveries - 1));
}

/** A received message: its decoded payload and the acknowledgement JetStream waits for. */
export interface Delivery<T> {
  readonly message: T;
  readonly subject: string;
  /** The message's sequence number in its stream (names it in logs). */
  readonly sequence: number;
  /** How often this message has been handed out, this time included (1 the first time). */
  readonly deliveries: number;
  /** Confirms processing; unacked messages are redelivered after the ack wait. */
  ack(): void;
  /** Asks for redelivery now (processing failed but may succeed later). */
  nak(delayMs?: number): void;
  /** Drops a message that can never be processed (undecodable). */
  term(): void;
}

/** A connection to NATS with typed, protobuf-encoded publish and durable consumption. */
/** Messages of a work queue handed out and not yet acknowledged, over all its workers. */
export const workQueueMaxAckPending = 1000;

export class Bus {
  /** Re-creates the durable consumers this process uses (after a server came back without its storage). */
  private readonly consumerSetups: (() => Promise<void>)[] = [];

  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /**
   * Connects and makes sure the platform's streams exist (idempotent across replicas). After every
   * reconnect the streams and this process's consumers are ensured again: a server that restarted with
   * empty storage would otherwise leave every publish and pull failing until the process restarts.
   */
  static async connect(servers: string, name: string): Promise<Bus> {
    const nc = await connect({ servers: servers.split(','), name, maxReconnectAttempts: -1 }).catch((err: Error) => {
      // Services connect at start: say which setting points where, not just "connection refused".
      throw new SiftError(
        'unavailable',
        `cannot connect to NATS at ${servers} (SIFT_NATS_URL): ${err.message}; start nats-server with -js or fix the URL`,
        { cause: err },
      );
    });
    const jsm = await jetstreamManager(nc);
    const bus = new Bus(nc, jetstream(nc), jsm);
    await bus.ensureStreams();
    bus.restoreAfterReconnects();
    return bus;
  }

  private restoreAfterReconnects(): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type !== 'reconnect') continue;
        // JetStream may need a moment after the server accepts connections.
        for (let attempt = 0; attempt < 10; attempt++) {
          try {
            await this.ensureStreams();
            for (const setup of this.consumerSetups) await setup();
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    })().catch(() => undefined);
  }

  /**
   * Publishes to JetStream and waits for the stream to store it; `key` names the entity of keyed subjects.
   * A failure (NATS unreachable, no stream) is UNAVAILABLE: the caller may retry.
   */
  async publish<T>(subject: Subject<T>, message: T, key?: string): Promise<void> {
    try {
      await this.js.publish(subjectFor(subject, key), subject.codec.encode(message).finish());
    } catch (err) {
      throw new SiftError('unavailable', `the event bus did not take ${subject.name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Live messages of one subject (one key of a keyed subject) over core NATS, without a durable consumer:
   * for watchers that only care about what happens from now on. Returns a function that unsubscribes.
   */
  subscribe<T>(subject: Subject<T>, key: string | undefined, handle: (message: T) => void): () => void {
    const sub = this.nc.subscribe(subject.keyed && !key ? filterFor(subject) : subjectFor(subject, key));
    void (async () => {
      for await (const m of sub) {
        try {
          handle(subject.codec.decode(m.data));
        } catch {
          // An undecodable live event is skipped; the durable stream keeps the original.
        }
      }
    })();
    return () => sub.unsubscribe();
  }

  /**
   * A work-queue consumer: each caller takes one message at a time and keeps it "in progress" while `handle` runs
   * (heartbeats), acking when it resolves. If the process dies, JetStream redelivers the message after
   * `ackWaitMs` to any replica. A rejected `handle` naks it for a retry after `retryDelayMs`, doubled on each
   * delivery up to a minute; after `maxDeliveries` the message is dropped (and reported), and so is one that
   * does not decode: a message that can never succeed must not hold the queue.
   */
  async work<T>(
    subject: Subject<T>,
    durable: string,
    /** `deliveries`: how often this message has been handed out, this time included (1 the first time). */
    handle: (message: T, deliveries: number) => Promise<void>,
    opts: { ackWaitMs?: number; retryDelayMs?: number; maxDeliveries?: number; onError?: (err: unknown) => void } = {},
  ): Promise<() => Promise<void>> {
    const ackWaitMs = opts.ackWaitMs ?? 30_000;
    const retryDelayMs = opts.retryDelayMs ?? 1000;
    const maxDeliveries = opts.maxDeliveries ?? 10;
    // Each worker takes one message at a time (the loop below), so the consumer's cap on unacknowledged
    // messages bounds the fleet, not a worker: at 1, a second replica sat idle while the first ran a job, and
    // a failing message waiting out its retry delay held every job behind it for minutes.
    const setup = () => this.ensureConsumer(subject, durable, ackWaitMs, workQueueMaxAckPending);
    await setup();
    this.consumerSetups.push(setup);
    const consumer = await this.js.consumers.get(subject.stream, durable);
    let stopped = false;
    // While NATS is unreachable a pull never settles: stopping must not wait for it.
    let wake: (v: null) => void = () => {};
    const stopping = new Promise<null>((resolve) => {
      wake = resolve;
    });
    const loop = (async () => {
      while (!stopped) {
        const m = await Promise.race([
          consumer.next({ expires: 1000 }).catch((err: unknown) => {
            if (!stopped) opts.onError?.(err);
            return null;
          }),
          stopping,
        ]);
        if (!m) continue;
        let message: T;
        try {
          message = subject.codec.decode(m.data);
        } catch (err) {
          opts.onError?.(new Error(`dropped an undecodable ${subject.name} message: ${(err as Error).message}`));
          m.term();
          continue;
        }
        const heartbeat = setInterval(() => m.working(), Math.max(200, ackWaitMs / 3));
        try {
          await handle(message, m.info.deliveryCount);
          m.ack();
        } catch (err) {
          opts.onError?.(err);
          const deliveries = m.info.deliveryCount;
          if (deliveries >= maxDeliveries) {
            opts.onError?.(new Error(`dropped a ${subject.name} message after ${deliveries} failed deliveries`));
            m.term();
          } else {
            m.nak(redeliveryDelayMs(retryDelayMs, deliveries));
          }
        } finally {
          clearInterval(heartbeat);
        }
      }
    })();
    return async () => {
      stopped = true;
      wake(null);
      await loop.catch(() => undefined);
    };
  }

  /**
   * Consumes `subjects` of one stream through a durable consumer, so a restarted process resumes where
   * it stopped and replicas share the work. Returns a function that stops consuming.
   */
  async consume<T>(
    subject: Subject<T>,
    durable: string,
    handle: (batch: Delivery<T>[]) => Promise<void>,
    opts: {
      maxBatch?: number;
      ackWaitMs?: number;
      /** Told about payloads that do not decode (they are terminated, never redelivered). */
      onUndecodable?: (err: unknown) => void;
      /**
       * Told when `handle` rejects; the whole batch is then redelivered after a second, without limit. A
       * handler that can tell one message from the rest acks, naks or terms each itself and resolves.
       */
      onError?: (err: unknown) => void;
      /** Told when a pull from NATS fails (server away, reconnecting); the pull is retried. */
      onPullError?: (err: unknown) => void;
    } = {},
  ): Promise<() => Promise<void>> {
    const setup = () => this.ensureConsumer(subject, durable, opts.ackWaitMs ?? 30_000, 10_000);
    await setup();
    this.consumerSetups.push(setup);
    const consumer = await this.js.consumers.get(subject.stream, durable);
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const batch: Delivery<T>[] = [];
        try {
          const msgs = await consumer.fetch({ max_messages: opts.maxBatch ?? 500, expires: 1000 });
          for await (const m of msgs) {
            try {
              batch.push({
                message: subject.codec.decode(m.data),
                subject: m.subject,
                sequence: m.seq,
                deliveries: m.info.deliveryCount,
                ack: () => m.ack(),
                nak: (d) => m.nak(d),
                term: () => m.term(),
              });
            } catch (err) {
              opts.onUndecodable?.(err);
              m.term();
            }
          }
        } catch (err) {
          // A failed pull (reconnect, server restart) is retried; unacked messages come back by themselves.
          if (!stopped) opts.onPullError?.(err);
          await new Promise((r) => setTimeout(r, 500));
        }
        if (batch.length === 0) continue;
        try {
          await handle(batch);
        } catch (err) {
          opts.onError?.(err);
          for (const d of batch) d.nak(1000);
        }
      }
    })();
    return async () => {
      stopped = true;
      await loop.catch(() => undefined);
    };
  }

  /** The largest message the server takes (its max_payload; 1 MiB, NATS's default, before it said). */
  maxPayloadBytes(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Messages stored in a stream now. */
  async streamInfo(stream: StreamName): Promise<{ messages: number }> {
    const info = await this.jsm.streams.info(stream);
    return { messages: info.state.messages };
  }

  /** Messages of a durable consumer not yet delivered, and delivered but not yet acknowledged. */
  async consumerLag(stream: StreamName, durable: string): Promise<{ pending: number; ackPending: number }> {
    const info = await this.jsm.consumers.info(stream, durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /** Flushes pending publishes and closes the connection. */
  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }

  private async ensureConsumer(subject: Subject<unknown>, durable: string, ackWaitMs: number, maxAckPending: number) {
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filterFor(subject),
      ack_wait: ackWaitMs * 1_000_000,
      max_ack_pending: maxAckPending,
    };
    const existing = await this.jsm.consumers.info(subject.stream, durable).catch(() => undefined);
    if (existing) await this.jsm.consumers.update(subject.stream, durable, config);
    else await this.jsm.consumers.add(subject.stream, config);
  }

  private async ensureStreams(): Promise<void> {
    for (const [name, spec] of Object.entries(streams) as [StreamName, (typeof streams)[StreamName]][]) {
      const config = {
        name,
        subjects: spec.subjects,
        retention: spec.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: spec.maxAgeMs * 1_000_000,
      };
      const existing = await this.jsm.streams.info(name).catch(() => undefined);
      if (existing) await this.jsm.streams.update(name, config);
      else await this.jsm.streams.add(config);
    }
  }
}
