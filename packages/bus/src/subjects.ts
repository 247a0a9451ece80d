import { commonV1 } from '@sift/contracts';

/** Encode/decode pair every ts-proto message type has. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** A NATS subject bound to its protobuf payload type and the JetStream stream that stores it. */
export interface Subject<T> {
  readonly name: string;
  readonly stream: StreamName;
  readonly codec: Codec<T>;
}

/** The JetStream streams of DESIGN.md ("Events"). */
export type StreamName = 'SIFT_JOBS' | 'SIFT_EVENTS' | 'SIFT_METRICS';

/** Every subject of the platform; names follow `sift.<domain>.v1.<event_in_past_tense>`. */
export const subjects = {
  /** One finished RPC or HTTP request (service, method, status, latency, batch size). */
  requestCompleted: {
    name: 'sift.common.v1.request_completed',
    stream: 'SIFT_METRICS',
    codec: commonV1.RequestCompleted,
  } satisfies Subject<commonV1.RequestCompleted>,
} as const;

/** Stream definitions: which subjects each stores and how it retains them. */
export const streams: Record<StreamName, { subjects: string[]; retention: 'workqueue' | 'limits'; maxAgeMs: number }> =
  {
    // Work queue: a message is removed once one worker acks it, so any replica can take a job and a crashed
    // worker's unacked job is redelivered.
    SIFT_JOBS: { subjects: ['sift.jobs.>'], retention: 'workqueue', maxAgeMs: 7 * 24 * 3600_000 },
    // Progress and per-sample results for streaming evaluation consumers.
    SIFT_EVENTS: { subjects: ['sift.events.>'], retention: 'limits', maxAgeMs: 24 * 3600_000 },
    // Metric events on their way to ClickHouse; kept a day so a stopped metrics consumer catches up.
    SIFT_METRICS: { subjects: [subjects.requestCompleted.name], retention: 'limits', maxAgeMs: 24 * 3600_000 },
  };
