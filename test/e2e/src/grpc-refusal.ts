import type { ServiceError } from '@grpc/grpc-js';

/** The error a gRPC call is refused with, or undefined when it succeeds. */
export const grpcError = (p: Promise<unknown>): Promise<ServiceError | undefined> =>
  p.then(
    () => undefined,
    (e: ServiceError) => e,
  );
