import type { ServiceError } from '@grpc/grpc-js';
import type { pruningV1 } from '@sift/contracts';
import { grpcError } from './grpc-refusal.js';

export type PruningClient = InstanceType<typeof pruningV1.PruningServiceClient>;

/** Calls the unary RPC `method` of the pruning service with `req`; its answer. */
export const call = <Req, Res>(client: PruningClient, method: string, req: Req): Promise<Res> =>
  new Promise((resolve, reject) =>
    (client as unknown as Record<string, (r: Req, cb: (e: ServiceError | null, r: Res) => void) => void>)[method]?.call(
      client,
      req,
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );

/** The error a call is refused with, or undefined when it succeeds. */
export const refusalOf = (client: PruningClient, method: string, req: unknown): Promise<ServiceError | undefined> =>
  grpcError(call(client, method, req));

/** Streams WatchJob to the end and returns every status. */
export function watch(client: PruningClient, jobId: string): Promise<pruningV1.JobStatus[]> {
  return new Promise((resolve, reject) => {
    const seen: pruningV1.JobStatus[] = [];
    const stream = client.watchJob({ jobId });
    stream.on('data', (m: pruningV1.WatchJobResponse) => m.status && seen.push(m.status));
    stream.on('end', () => resolve(seen));
    stream.on('error', reject);
  });
}
