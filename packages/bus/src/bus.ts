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
import type { StreamName, Subject } from './subjects.js';
import { streams } from './subjects.js';

/** A received message: its decoded payload and the acknowledgement JetStream waits for. */
export interface Delivery<T> {
  readonly message: T;
  readonly subject: string;
  /** Confirms processing; unacked messages are redelivered after the ack wait. */
  ack(): void;
  /** Asks for redelivery now (processing failed but may succeed later). */
  nak(delayMs?: number): void;
  /** Drops a message that can never be processed (undecodable). */
  term(): void;
}

/** A connection to NATS with typed, protobuf-encoded publish and durable consumption. */
export class Bus {
  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /** Connects and makes sure the platform's streams exist (idempotent across replicas). */
  static async connect(servers: string, name: string): Promise<Bus> {
    const nc = await connect({ servers: servers.split(','), name, maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(nc);
    const bus = new Bus(nc, jetstream(nc), jsm);
    await bus.ensureStreams();
    return bus;
  }

  /** Publishes to JetStream and waits for the stream to store it. */
  async publish<T>(subject: Subject<T>, message: T): Promise<void> {
    await this.js.publish(subject.name, subject.codec.encode(message).finish());
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
      /** Told when `handle` fails; the batch is then redelivered after a short delay. */
      onError?: (err: unknown) => void;
    } = {},
  ): Promise<() => Promise<void>> {
    await this.jsm.consumers
      .add(subject.stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: subject.name,
        ack_wait: (opts.ackWaitMs ?? 30_000) * 1_000_000,
        max_ack_pending: 10_000,
      })
      .catch(async (err: unknown) => {
        // Already there with the same config is fine; anything else is a real error.
        if (!(await this.jsm.consumers.info(subject.stream, durable).catch(() => undefined))) throw err;
      });
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
          if (!stopped) opts.onError?.(err);
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
