import { SiftError } from '@sift/kit/errors';

/** The two ways reading or writing a dataset fails because of what the caller gave it. */
export type DatasetErrorKind = 'invalid_argument' | 'not_found';

/**
 * A dataset that cannot be read or written as asked: a missing file (`not_found`), or a file whose bytes,
 * JSON, fields or schema are wrong (`invalid_argument`). The message names the file and, where there is
 * one, the 1-based line (JSONL) or row (Parquet), so a data engineer can open the file at that place.
 * It is a `SiftError`, so the gRPC edge maps it like any other domain error.
 */
export class DatasetError extends SiftError {
  declare readonly kind: DatasetErrorKind;

  constructor(
    kind: DatasetErrorKind,
    message: string,
    /** File the error is about, when there is one. */
    readonly file?: string,
    /** 1-based line (JSONL) or row (Parquet) within `file`, when the error is about one record. */
    readonly position?: number,
    options?: { cause?: unknown },
  ) {
    super(kind, message, options);
  }
}
