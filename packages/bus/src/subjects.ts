import { commonV1, pruningV1, selectionV1 } from '@sift/contracts';

/** Encode/decode pair every ts-proto message type has. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/**
 * A NATS subject bound to its protobuf payload type and the JetStream stream that stores it. A keyed
 * subject gets one more token per entity (`sift.selection.v1.job_progressed.<job id>`), so a watcher of
 * one job subscribes to exactly its events.
 */
export interface Subject<T> {
  readonly name: string;
  readonly stream: StreamName;
  readonly codec: Codec<T>;
  readonly keyed?: boolean;
}

/** The JetStream streams of DESIGN.md ("Events"). */
export type StreamName = 'SIFT_JOBS' | 'SIFT_EVENTS' | 'SIFT_METRICS';

/** Every subject of the platform; names follow `sift.<domain>.v1.<event_in_past_tense>`. */
export const subjects = {
  /** The RPCs or HTTP requests a process finished since its last batch (service, method, status, latency, batch size). */
  requestsCompleted: {
    name: 'sift.common.v1.requests_completed',
    stream: 'SIFT_METRICS',
    codec: commonV1.RequestsCompleted,
  } satisfies Subject<commonV1.RequestsCompleted>,
  /** A selection job was accepted; the work-queue message a worker takes (payload: the job status). */
  selectionJobSubmitted: {
    name: 'sift.selection.v1.job_submitted',
    stream: 'SIFT_JOBS',
    codec: selectionV1.JobProgressed,
  } satisfies Subject<selectionV1.JobProgressed>,
  /** Progress of one selection job, keyed by job id. */
  selectionJobProgressed: {
    name: 'sift.selection.v1.job_progressed',
    stream: 'SIFT_EVENTS',
    codec: selectionV1.JobProgressed,
    keyed: true,
  } satisfies Subject<selectionV1.JobProgressed>,
  /** A batch of final per-record decisions of one selection job, keyed by job id. */
  selectionRecordsDecided: {
    name: 'sift.selection.v1.records_decided',
    stream: 'SIFT_EVENTS',
    codec: selectionV1.RecordsDecided,
    keyed: true,
  } satisfies Subject<selectionV1.RecordsDecided>,
  /** A selection job ended (succeeded, failed or cancelled), keyed by job id. */
  selectionJobFinished: {
    name: 'sift.selection.v1.job_finished',
    stream: 'SIFT_EVENTS',
    codec: selectionV1.JobFinished,
    keyed: true,
  } satisfies Subject<selectionV1.JobFinished>,
  /** A pruning-service job (analysis or pruning) was accepted; the work-queue message a worker takes. */
  pruningJobSubmitted: {
    name: 'sift.pruning.v1.job_submitted',
    stream: 'SIFT_JOBS',
    codec: pruningV1.JobProgressed,
  } satisfies Subject<pruningV1.JobProgressed>,
  /** Progress of one pruning-service job, keyed by job id. */
  pruningJobProgressed: {
    name: 'sift.pruning.v1.job_progressed',
    stream: 'SIFT_EVENTS',
    codec: pruningV1.JobProgressed,
    keyed: true,
  } satisfies Subject<pruningV1.JobProgressed>,
  /** A pruning-service job ended (succeeded, failed or cancelled), keyed by job id. */
  pruningJobFinished: {
    name: 'sift.pruning.v1.job_finished',
    stream: 'SIFT_EVENTS',
    codec: pruningV1.JobFinished,
    keyed: true,
  } satisfies Subject<pruningV1.JobFinished>,
  /** A pruning job succeeded: models, removed block and figures before/after; lands in `pruning_runs`. */
  pruningRunCompleted: {
    name: 'sift.pruning.v1.pruning_run_completed',
    stream: 'SIFT_METRICS',
    codec: pruningV1.PruningRunCompleted,
  } satisfies Subject<pruningV1.PruningRunCompleted>,
} as const;

/** The concrete subject to publish on: the name, plus the key for keyed subjects. */
export function subjectFor(subject: Subject<unknown>, key?: string): string {
  if (!subject.keyed) return subject.name;
  if (!key || /[\s.*>]/.test(key)) throw new Error(`${subject.name} needs a key without spaces, dots or wildcards`);
  return `${subject.name}.${key}`;
}

/** The filter matching every message of a subject (all keys of a keyed one). */
export function filterFor(subject: Subject<unknown>): string {
  return subject.keyed ? `${subject.name}.>` : subject.name;
}

const all = Object.values(subjects) as Subject<unknown>[];
const filtersOf = (stream: StreamName) => all.filter((s) => s.stream === stream).map(filterFor);

/** Stream definitions: which subjects each stores and how it retains them. */
export const streams: Record<StreamName, { subjects: string[]; retention: 'workqueue' | 'limits'; maxAgeMs: number }> =
  {
    // Work queue: a message is removed once one worker acks it, so any replica can take a job and a
    // crashed worker's unacked job is redelivered.
    SIFT_JOBS: { subjects: filtersOf('SIFT_JOBS'), retention: 'workqueue', maxAgeMs: 7 * 24 * 3600_000 },
    // Progress and per-sample results for streaming evaluation consumers (and the metrics consumer).
    SIFT_EVENTS: { subjects: filtersOf('SIFT_EVENTS'), retention: 'limits', maxAgeMs: 24 * 3600_000 },
    // Metric events on their way to ClickHouse; kept a day so a stopped metrics consumer catches up.
    SIFT_METRICS: { subjects: filtersOf('SIFT_METRICS'), retention: 'limits', maxAgeMs: 24 * 3600_000 },
  };
