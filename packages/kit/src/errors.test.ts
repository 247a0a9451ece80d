import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { grpcStatusName, grpcStatusOf, httpStatusOf, kindOfGrpcStatus } from './errors.js';
import { asSiftError, SiftError } from './sift-error.js';

describe('error mapping (DESIGN.md table)', () => {
  it.each([
    ['invalid_argument', status.INVALID_ARGUMENT, 400],
    ['not_found', status.NOT_FOUND, 404],
    ['permission_denied', status.PERMISSION_DENIED, 403],
    ['failed_precondition', status.FAILED_PRECONDITION, 409],
    ['resource_exhausted', status.RESOURCE_EXHAUSTED, 429],
    ['payload_too_large', status.RESOURCE_EXHAUSTED, 413],
    ['unavailable', status.UNAVAILABLE, 503],
    ['unimplemented', status.UNIMPLEMENTED, 501],
    ['deadline_exceeded', status.DEADLINE_EXCEEDED, 504],
    ['internal', status.INTERNAL, 500],
  ] as const)('%s -> gRPC %i, HTTP %i', (kind, grpc, http) => {
    expect(grpcStatusOf(kind)).toBe(grpc);
    expect(httpStatusOf(kind)).toBe(http);
  });

  it('maps upstream gRPC codes back to kinds, unknown ones to internal', () => {
    expect(kindOfGrpcStatus(status.NOT_FOUND)).toBe('not_found');
    expect(kindOfGrpcStatus(status.PERMISSION_DENIED)).toBe('permission_denied');
    expect(kindOfGrpcStatus(status.DATA_LOSS)).toBe('internal');
    expect(grpcStatusName(status.RESOURCE_EXHAUSTED)).toBe('RESOURCE_EXHAUSTED');
  });

  it('hides unknown errors behind a generic internal message and keeps the cause for logs', () => {
    const cause = new Error('segfault at 0xdead');
    const e = asSiftError(cause);
    expect(e.kind).toBe('internal');
    expect(e.message).not.toContain('0xdead');
    expect(e.cause).toBe(cause);
    const known = new SiftError('not_found', 'unknown model "x"');
    expect(asSiftError(known)).toBe(known);
  });
});
