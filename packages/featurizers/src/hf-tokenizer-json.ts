/**
 * What every part of the `tokenizer.json` interpreter shares: the one error type it throws
 * ({@link HfTokenizerError}) and the checked readers of the file's JSON values, whose messages name the key
 * that is wrong.
 */

/** What went wrong with a `tokenizer.json`: a component this implementation lacks, or a malformed file. */
export type HfTokenizerErrorKind = 'unsupported' | 'invalid';

/** A `tokenizer.json` cannot be used; the message names the component or key. */
export class HfTokenizerError extends Error {
  override readonly name = 'HfTokenizerError';
  constructor(
    readonly kind: HfTokenizerErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A JSON object of the file, read key by key. */
export type Json = Record<string, unknown>;

/** `value` as a JSON object. @throws HfTokenizerError naming `where` when it is not one */
export function asObject(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HfTokenizerError('invalid', `${where} must be an object, got ${JSON.stringify(value) ?? 'undefined'}`);
  }
  return value as Json;
}

/** `value` as a JSON array. @throws HfTokenizerError naming `where` when it is not one */
export function asArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new HfTokenizerError('invalid', `${where} must be an array`);
  return value;
}

/** A component's `type` for an error message: quoted, or what stood there instead. */
export function describeType(type: unknown): string {
  return typeof type === 'string' ? `"${type}"` : `(type ${JSON.stringify(type) ?? 'missing'})`;
}

/**
 * A model's `vocab` object (token -> id). @throws HfTokenizerError naming the token whose id is not a
 * non-negative integer, as the library's u32 ids require
 */
export function readVocab(value: unknown, where: string): Map<string, number> {
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(asObject(value, where))) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new HfTokenizerError('invalid', `${where}: id of ${JSON.stringify(token)} is not a non-negative integer`);
    }
    vocab.set(token, id);
  }
  return vocab;
}
