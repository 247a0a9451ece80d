import type { ClientReadableStream } from '@grpc/grpc-js';

/** A job status as the gateway relays it: protobuf JSON of JobStatus. */
export interface RelayedStatus {
  state?: string;
  error?: string;
  progress?: { stage?: string; done?: string; total?: string };
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
