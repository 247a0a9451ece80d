import { readDescriptorSet } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

/**
 * Checks a protobuf-JSON value against its message type before ts-proto's `fromJSON` reads it.
 *
 * `fromJSON` is lenient: it skips fields it does not know, turns an unknown enum name into -1 and coerces
 * any value to the field's type. A job body with a typo (`"maxBlocksize": 1`, `"comparision": ...`) would
 * run with defaults nobody asked for, and an out-of-range integer would fail later as an encoding error.
 * This check refuses such a body with the path of the offending field, the way the gRPC contract would.
 *
 * Accepted, as in the protobuf JSON mapping: both the lowerCamelCase and the proto (snake_case) field
 * names, `null` for "not set", enum values by name or number, 64-bit integers as numbers or decimal
 * strings (up to 2^53 - 1, see `integer64`), numbers as numeric strings (query parameters are strings).
 */
export class ProtoJsonChecker {
  private readonly root: protobuf.Root;

  constructor(descriptorSet: Uint8Array = readDescriptorSet()) {
    const set = (descriptor as unknown as DescriptorExt).FileDescriptorSet.decode(descriptorSet);
    this.root = (protobuf.Root as unknown as DescriptorExt['Root']).fromDescriptor(set);
    this.root.resolveAll();
  }

  /** Throws INVALID_ARGUMENT naming the first field of `value` that `typeName` does not accept. */
  check(typeName: string, value: unknown, path = ''): void {
    this.checkMessage(this.root.lookupType(typeName), value, path);
  }

  private checkMessage(type: protobuf.Type, value: unknown, path: string): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw refuse(path || 'the body', `must be a ${type.name} object`);
    }
    const set: protobuf.Field[] = [];
    for (const [key, v] of Object.entries(value)) {
      const field = type.fields[key] ?? type.fieldsArray.find((f) => jsonName(f.name) === key);
      const at = path ? `${path}.${key}` : key;
      if (!field) {
        const known = type.fieldsArray.map((f) => jsonName(f.name)).join(', ');
        throw refuse(at, `is not a field of ${type.name} (its fields: ${known})`);
      }
      if (v === null) continue;
      set.push(field);
      if (field.repeated) {
        if (!Array.isArray(v)) throw refuse(at, 'must be a list');
        v.forEach((item, i) => {
          this.checkValue(field, item, `${at}[${i}]`);
        });
      } else this.checkValue(field, v, at);
    }
    for (const oneof of type.oneofsArray) {
      const chosen = set.filter((f) => f.partOf === oneof);
      if (chosen.length > 1) {
        throw refuse(
          path || type.name,
          `sets ${chosen.map((f) => jsonName(f.name)).join(' and ')}; only one of ${oneof.oneof.map(jsonName).join(', ')} may be set`,
        );
      }
    }
  }

  private checkValue(field: protobuf.Field, v: unknown, at: string): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      this.checkMessage(resolved, v, at);
      return;
    }
    if (resolved instanceof protobuf.Enum) {
      const known = Object.entries(resolved.values);
      if (known.some(([name, number]) => v === name || v === number)) return;
      throw refuse(at, `must be one of ${known.map(([name]) => name).join(', ')}; got ${JSON.stringify(v)}`);
    }
    const scalar = scalars[field.type];
    if (!scalar) return;
    if (!scalar.accepts(v)) throw refuse(at, `must be ${scalar.what}; got ${shown(v)}`);
  }
}

/** lowerCamelCase of a proto field name, as the JSON mapping spells it. */
function jsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * A refused value as the message shows it. JSON.parse reads a number beyond the float64 range (`1e400`) as
 * Infinity, which JSON.stringify would show as `null`, a value the client never sent.
 */
function shown(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return 'a number beyond the float64 range (about 1.8e308)';
  return JSON.stringify(v);
}

function refuse(path: string, what: string): SiftError {
  return new SiftError('invalid_argument', `${path} ${what}`);
}

/** A JSON number, or a string holding one (the JSON mapping allows both for numeric fields). */
const numeric = (v: unknown): number | undefined => {
  // A number JSON.parse read as Infinity (`1e400`) is not one the field can hold; "Infinity" must be spelt out.
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};

const integerIn =
  (min: number, max: number) =>
  (v: unknown): boolean => {
    const n = numeric(v);
    return n !== undefined && Number.isInteger(n) && n >= min && n <= max;
  };

/**
 * 64-bit integers, as a number or a decimal string, up to 2^53 - 1 in magnitude: the generated types hold
 * them in JavaScript numbers (ts-proto `forceLong=number`), so a larger value would be rounded on the way
 * in and refused by the service's decoder. The string is compared exactly, before any rounding.
 */
const integer64 =
  (signed: boolean) =>
  (v: unknown): boolean => {
    const text = typeof v === 'string' ? v.trim() : typeof v === 'number' && Number.isInteger(v) ? String(v) : '';
    if (!(signed ? /^-?\d+$/ : /^\d+$/).test(text)) return false;
    const n = BigInt(text);
    return n <= maxSafe && n >= (signed ? -maxSafe : 0n);
  };
const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

const int32 = { accepts: integerIn(-(2 ** 31), 2 ** 31 - 1), what: 'a 32-bit integer' };
const uint32 = { accepts: integerIn(0, 2 ** 32 - 1), what: 'an integer from 0 to 4294967295' };
const int64 = {
  accepts: integer64(true),
  what: 'an integer from -9007199254740991 to 9007199254740991 (2^53 - 1, the largest this API takes)',
};
const uint64 = {
  accepts: integer64(false),
  what: 'an integer from 0 to 9007199254740991 (2^53 - 1, the largest this API takes)',
};
const real = {
  accepts: (v: unknown) => numeric(v) !== undefined || v === 'NaN' || v === 'Infinity' || v === '-Infinity',
  what: 'a number',
};

const scalars: Record<string, { accepts: (v: unknown) => boolean; what: string }> = {
  double: real,
  float: real,
  int32,
  sint32: int32,
  sfixed32: int32,
  uint32,
  fixed32: uint32,
  int64,
  sint64: int64,
  sfixed64: int64,
  uint64,
  fixed64: uint64,
  bool: { accepts: (v) => typeof v === 'boolean', what: 'true or false' },
  string: { accepts: (v) => typeof v === 'string', what: 'a string' },
  bytes: { accepts: (v) => typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v), what: 'base64 text' },
};

/** The parts of protobufjs's descriptor extension used here (its typings do not declare them on Root). */
interface DescriptorExt {
  FileDescriptorSet: { decode(bytes: Uint8Array): unknown };
  Root: { fromDescriptor(set: unknown): protobuf.Root };
}
