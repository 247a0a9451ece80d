/** The platform's one error type; no runtime dependencies, so pure domain code may import it. */

/**
 * What went wrong, in the platform's words. Every domain error carries one of these; the gRPC and HTTP
 * edges map it once, with the table in DESIGN.md ("Errors").
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'permission_denied'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'payload_too_large'
  | 'unavailable'
  | 'unimplemented'
  | 'deadline_exceeded'
  | 'cancelled'
  | 'internal';

/**
 * The one error type services throw for expected failures. `message` is written for the caller: it names
 * the field or resource and says what to do. `cause` keeps the underlying error for logs only.
 */
export class SiftError extends Error {
  override readonly name = 'SiftError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Narrows anything thrown into a SiftError; unknown errors become `internal` without leaking details. */
export function asSiftError(err: unknown): SiftError {
  if (err instanceof SiftError) return err;
  return new SiftError('internal', 'internal error; see the service log', { cause: err });
}
