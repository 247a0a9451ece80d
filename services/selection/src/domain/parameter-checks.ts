import { SiftError } from '@sift/kit/errors';

/**
 * Parameter checks shared by the selection methods. Every failure is a SiftError of kind
 * `invalid_argument` whose message starts with the parameter's name, so the gRPC adapter can pass it on
 * unchanged and the caller knows which field to fix.
 */

/** An `invalid_argument` error about `param`. */
export function invalidArgument(param: string, problem: string): SiftError {
  return new SiftError('invalid_argument', `${param} ${problem}`);
}

/** `value` as an integer in [min, max]. */
export function checkInteger(value: number, param: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(param, `must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** `value` as a finite number in the open interval (min, max), or (min, max] when `maxInclusive`. */
export function checkInRange(value: number, param: string, min: number, max: number, maxInclusive = false): number {
  const ok = Number.isFinite(value) && value > min && (maxInclusive ? value <= max : value < max);
  if (!ok) throw invalidArgument(param, `must be in (${min}, ${max}${maxInclusive ? ']' : ')'}, got ${value}`);
  return value;
}

/** `value` as one of `allowed`. */
export function checkOneOf<T extends string>(value: T, param: string, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw invalidArgument(param, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${value}'`);
  }
  return value;
}

/**
 * How many of `n` records a method keeps, from exactly one of a fraction in (0, 1] or an absolute count in
 * [0, n]. A fraction is rounded to the nearest integer (half up) rather than floored, because fractions
 * like 0.29 are not exact in binary and 0.29 · 100 evaluates to 28.999…; rounding gives the 29 a reader
 * expects.
 */
export function keepCountOf(n: number, keepFraction: number | undefined, keepCount: number | undefined): number {
  if ((keepFraction === undefined) === (keepCount === undefined)) {
    throw invalidArgument('keepFraction', 'or keepCount must be set, and not both');
  }
  if (keepFraction !== undefined) return Math.round(checkInRange(keepFraction, 'keepFraction', 0, 1, true) * n);
  return checkInteger(keepCount as number, 'keepCount', 0, n);
}
