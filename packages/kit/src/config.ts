import { SiftError } from './errors.js';

/** One configuration key: the environment variable it is read from, its default and its meaning. */
export interface ConfigKey<T> {
  /** Environment variable name, e.g. SIFT_EMBEDDING_PORT. */
  readonly env: string;
  /** Value used when the variable is unset or empty; chosen to work on a laptop. */
  readonly default: T;
  /** One line for `--help` style listings. */
  readonly doc: string;
  /** Parses the raw string; throws SiftError('invalid_argument') with a useful message on bad input. */
  readonly parse: (raw: string, env: string) => T;
  /** The values a key takes, when it takes a fixed set (listed by `--help`). */
  readonly values?: readonly string[];
}

type Spec = Record<string, ConfigKey<unknown>>;
/** The typed, frozen object a spec produces. */
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends ConfigKey<infer T> ? T : never };

/** Reads every key of `spec` from `env` once and returns a frozen typed object. */
export function loadConfig<S extends Spec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(spec)) {
    const raw = env[key.env];
    out[name] = raw === undefined || raw === '' ? key.default : key.parse(raw, key.env);
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** A `NAME=default  doc` listing of a spec, for `--help` and the README. */
export function describeConfig(spec: Spec): string {
  return Object.values(spec)
    .map((k) => `${k.env}=${String(k.default)}\t${k.doc}${k.values ? ` (one of ${k.values.join(', ')})` : ''}`)
    .join('\n');
}

/**
 * For a deployable's main: loads its settings, or prints the first bad one in one line and exits with
 * status 2 (a stack trace says nothing more about a mistyped variable).
 */
export function configOrExit<C>(name: string, load: () => C): C {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof SiftError) || err.kind !== 'invalid_argument') throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(2);
  }
}

/**
 * For a deployable's main: with `--help` on the command line, prints what `describeConfig` says about
 * every setting and exits before anything starts (settings are environment variables, not flags).
 */
export function exitWithHelpIfAsked(name: string, spec: Spec, argv: readonly string[] = process.argv): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  process.stdout.write(`${name}: settings (environment variables, with their defaults)\n\n${describeConfig(spec)}\n`);
  process.exit(0);
}

/** Plain decimal digits (no spaces, hex, exponents: `Number` would take ' 5', '0x10' and '1e3'). */
const decimalInteger = /^-?\d+$/;
const decimalNumber = /^-?(\d+\.?\d*|\.\d+)$/;

/** Key builders for the common value types. */
export const key = {
  string: (env: string, def: string, doc: string): ConfigKey<string> => ({ env, default: def, doc, parse: (r) => r }),
  int: (env: string, def: number, doc: string, min = 0, max = Number.MAX_SAFE_INTEGER): ConfigKey<number> => ({
    env,
    default: def,
    doc,
    parse: (raw, name) => {
      const v = Number(raw);
      if (!decimalInteger.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
        throw new SiftError('invalid_argument', `${name} must be an integer ${range}, got "${raw}"`);
      }
      return v;
    },
  }),
  /** A TCP port; 0 picks a free one. */
  port: (env: string, def: number, doc: string): ConfigKey<number> => key.int(env, def, doc, 0, 65_535),
  number: (env: string, def: number, doc: string, min = Number.NEGATIVE_INFINITY): ConfigKey<number> => ({
    env,
    default: def,
    doc,
    parse: (raw, name) => {
      const v = Number(raw);
      if (!decimalNumber.test(raw) || !Number.isFinite(v) || v < min) {
        const bound = min === Number.NEGATIVE_INFINITY ? '' : ` >= ${min}`;
        throw new SiftError('invalid_argument', `${name} must be a number${bound}, got "${raw}"`);
      }
      return v;
    },
  }),
  bool: (env: string, def: boolean, doc: string): ConfigKey<boolean> => ({
    env,
    default: def,
    doc,
    parse: (raw, name) => {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new SiftError('invalid_argument', `${name} must be true or false, got "${raw}"`);
    },
  }),
  oneOf: <T extends string>(env: string, def: T, values: readonly T[], doc: string): ConfigKey<T> => ({
    env,
    default: def,
    doc,
    values,
    parse: (raw, name) => {
      if (!(values as readonly string[]).includes(raw)) {
        throw new SiftError('invalid_argument', `${name} must be one of ${values.join(', ')}, got "${raw}"`);
      }
      return raw as T;
    },
  }),
};
