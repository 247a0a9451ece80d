import { SiftError } from '@sift/kit';

/**
 * proto3 cannot tell an unset double from 0, so the contract reads 0 as "use the default". Anything else,
 * NaN included, is the caller's value and goes on to the range check (`NaN || default` would have hidden
 * a NaN behind the default).
 */
export function unsetIsDefault(v: number, def: number): number {
  return v === 0 ? def : v;
}

/** `v` when it is an integer in [min, max]; INVALID_ARGUMENT naming `field` otherwise. */
export function intIn(v: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SiftError('invalid_argument', `${field} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/** v in (min, max) (exclusive), or (min, max] when `maxInclusive`. */
export function inRange(v: number, min: number, max: number, field: string, maxInclusive = false): number {
  const ok = Number.isFinite(v) && v > min && (maxInclusive ? v <= max : v < max);
  if (!ok)
    throw new SiftError('invalid_argument', `${field} must be in (${min}, ${max}${maxInclusive ? ']' : ')'}, got ${v}`);
  return v;
}
