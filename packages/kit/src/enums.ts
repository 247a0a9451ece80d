import { SiftError } from './sift-error.js';

/**
 * Returns `value` when it is one of the generated enum's values; INVALID_ARGUMENT naming `field` otherwise.
 * Protobuf keeps an enum number the receiver does not know (a newer client, or a typo over HTTP that
 * ts-proto's `fromJSON` turned into UNRECOGNIZED = -1); treating it as the default would run work nobody
 * asked for.
 */
export function requireKnownEnum<E extends number>(
  value: E,
  values: Record<string, string | number>,
  field: string,
): E {
  const names = Object.entries(values).filter(([, v]) => typeof v === 'number' && v >= 0);
  if (names.some(([, v]) => v === value)) return value;
  throw new SiftError(
    'invalid_argument',
    `${field} has the unknown value ${value}; expected one of ${names.map(([name]) => name).join(', ')}`,
  );
}
