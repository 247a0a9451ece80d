/**
 * What a ClickHouse column takes, checked before a row is inserted. ClickHouse would otherwise wrap an
 * out-of-range integer (http_status 4e9 -> 10240 in UInt16), clamp a timestamp (1e15 ms -> 9999-12-31),
 * store JSON's null for NaN as 0 in a non-Nullable column, or reject the whole insert (-5 in a UInt*).
 *
 * - `time`: epoch milliseconds of a DateTime64(3). Outside [2020-01-01, receive time + 1 day] the row keeps
 *   the consumer's receive time instead: the event is real (a request finished, a job ended) and reaches the
 *   consumer seconds after it happened, so the receive time is close; dropping the row would lose the fact.
 * - `uint`: an integer in [0, max]; anything else skips the row, or stores NULL where `nullable`.
 * - `float`: a finite number >= `min`; anything else skips the row, or stores NULL where `nullable`.
 */
export type ColumnCheck =
  | { readonly kind: 'time' }
  | { readonly kind: 'uint'; readonly max: number; readonly nullable?: boolean }
  | { readonly kind: 'float'; readonly min?: number; readonly nullable?: boolean };

/** Checks of one table's numeric columns; columns not named (strings, booleans) are taken as they are. */
export type TableChecks = Readonly<Record<string, ColumnCheck>>;

/** 2020-01-01T00:00:00Z: no Sift event is older. */
export const earliestEventMs = Date.UTC(2020, 0, 1);
/** How far ahead of the consumer's clock an event's time may be (publishers' clocks drift). */
export const futureSlackMs = 24 * 60 * 60 * 1000;

export const uint32 = { kind: 'uint', max: 0xffff_ffff } as const;
/** UInt64 columns take what a JS number holds exactly. */
export const uint64 = { kind: 'uint', max: Number.MAX_SAFE_INTEGER } as const;
export const time = { kind: 'time' } as const;

/** One value a check did not take, and what became of its row. */
export interface RowProblem {
  readonly field: string;
  readonly value: unknown;
  readonly action: 'skipped' | 'null' | 'receive time';
}

/** A row ready to insert (`row` undefined when it is skipped) and the values that were not taken. */
export interface CheckedRow {
  readonly row: Record<string, unknown> | undefined;
  readonly problems: readonly RowProblem[];
}

const isUint = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isFloat = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isFinite(v) && v >= min;

/**
 * Checks `row` against `checks`: a value a column cannot hold becomes NULL where the column is Nullable,
 * a timestamp outside the sane window becomes `receivedAtMs`, and any other bad value skips the row.
 */
export function checkRow(row: Record<string, unknown>, checks: TableChecks, receivedAtMs: number): CheckedRow {
  const out = { ...row };
  const problems: RowProblem[] = [];
  let skipped = false;
  for (const [field, check] of Object.entries(checks)) {
    const value = row[field];
    if (check.kind === 'time') {
      const sane = isUint(value, Number.MAX_SAFE_INTEGER) && (value as number) >= earliestEventMs;
      if (sane && (value as number) <= receivedAtMs + futureSlackMs) continue;
      out[field] = receivedAtMs;
      problems.push({ field, value, action: 'receive time' });
      continue;
    }
    const ok = check.kind === 'uint' ? isUint(value, check.max) : isFloat(value, check.min ?? -Infinity);
    // An optional proto field left unset is null here: fine for a Nullable column, a bad value otherwise.
    if (ok || (value === null && check.nullable)) continue;
    if (check.nullable) {
      out[field] = null;
      problems.push({ field, value, action: 'null' });
    } else {
      skipped = true;
      problems.push({ field, value, action: 'skipped' });
    }
  }
  return { row: skipped ? undefined : out, problems };
}
