import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorKind } from './sift-error.js';

export * from './sift-error.js';

const grpcByKind: Record<ErrorKind, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  payload_too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
  unimplemented: GrpcStatus.UNIMPLEMENTED,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  cancelled: GrpcStatus.CANCELLED,
  internal: GrpcStatus.INTERNAL,
};

const httpByKind: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  permission_denied: 403,
  failed_precondition: 409,
  resource_exhausted: 429,
  payload_too_large: 413,
  unavailable: 503,
  unimplemented: 501,
  deadline_exceeded: 504,
  cancelled: 499,
  internal: 500,
};

/** gRPC status code for an error kind. */
export function grpcStatusOf(kind: ErrorKind): GrpcStatus {
  return grpcByKind[kind];
}

/** HTTP status code for an error kind. */
export function httpStatusOf(kind: ErrorKind): number {
  return httpByKind[kind];
}

const kindByGrpc = new Map<number, ErrorKind>([
  [GrpcStatus.INVALID_ARGUMENT, 'invalid_argument'],
  [GrpcStatus.OUT_OF_RANGE, 'invalid_argument'],
  [GrpcStatus.NOT_FOUND, 'not_found'],
  [GrpcStatus.PERMISSION_DENIED, 'permission_denied'],
  [GrpcStatus.FAILED_PRECONDITION, 'failed_precondition'],
  [GrpcStatus.RESOURCE_EXHAUSTED, 'resource_exhausted'],
  [GrpcStatus.UNAVAILABLE, 'unavailable'],
  [GrpcStatus.UNIMPLEMENTED, 'unimplemented'],
  [GrpcStatus.DEADLINE_EXCEEDED, 'deadline_exceeded'],
  [GrpcStatus.CANCELLED, 'cancelled'],
]);

/** Error kind for a gRPC status received from another service (the gateway's direction). */
export function kindOfGrpcStatus(code: number): ErrorKind {
  return kindByGrpc.get(code) ?? 'internal';
}

/** Canonical upper-case name of a gRPC status code, e.g. "INVALID_ARGUMENT". */
export function grpcStatusName(code: number): string {
  return GrpcStatus[code] ?? `CODE_${code}`;
}
