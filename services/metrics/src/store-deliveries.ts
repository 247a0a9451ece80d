import { type Delivery, redeliveryDelayMs } from '@sift/bus';
import type { Logger } from '@sift/kit';
import type { BatchedWriter } from '@sift/metrics';
import type { CheckedRow } from './row-checks.js';

/** How one consumer stores its events in one table. */
export interface TableDelivery<T> {
  readonly table: string;
  /** The event's name in logs (its subject). */
  readonly event: string;
  /** The checked rows of one event; `receivedAtMs` replaces timestamps outside the sane window. */
  readonly rowsOf: (message: T, receivedAtMs: number) => readonly CheckedRow[];
  /** Most rows per insert; one event with more is inserted alone. */
  readonly maxRows: number;
  /** Deliveries after which an event whose rows ClickHouse rejects is dropped. */
  readonly maxDeliveries: number;
  /** Redelivery delay after a rejected event's first delivery, doubled after each further one. */
  readonly retryDelayMs: number;
}

/**
 * Inserts the rows of a fetched batch and acks each event once its rows are stored. Rows are checked
 * first (`row-checks.ts`: skipped or nulled values get one warn line each). Events are inserted in groups of
 * whole events, at most `maxRows` rows per insert: a group is one insert statement into a table with one
 * partition, which ClickHouse stores entirely or not at all, so a retried event never repeats rows.
 *
 * When a group's insert fails, each of its events is inserted alone: the good ones are stored and acked, so
 * one bad event never holds the others. An event that fails alone while ClickHouse answers a ping is naked
 * with backoff and, on its `maxDeliveries`-th delivery, terminated with one error line naming its subject and
 * stream sequence. When ClickHouse does not answer, nothing is blamed on the events: the call rejects and the
 * bus redelivers the batch (without limit: the events are fine and the store will come back).
 */
export async function storeDeliveries<T>(
  /** Whether ClickHouse answers now (a ping). */
  storeAnswers: () => Promise<boolean>,
  writer: BatchedWriter,
  how: TableDelivery<T>,
  batch: readonly Delivery<T>[],
  logger: Logger,
): Promise<void> {
  const receivedAtMs = Date.now();
  const events = batch.map((delivery) => ({ delivery, rows: storableRows(how, delivery, receivedAtMs, logger) }));
  for (const e of events) if (e.rows.length === 0) e.delivery.ack();
  for (const group of groupsOf(
    events.filter((e) => e.rows.length > 0),
    how.maxRows,
  )) {
    const alone = group.length === 1 ? [] : group;
    try {
      await insert(writer, how.table, group);
      for (const e of group) e.delivery.ack();
      continue;
    } catch (err) {
      if (alone.length === 0) await blameOrRethrow(storeAnswers, how, group[0] as Stored<T>, err, logger);
      else logger.warn(`inserting ${how.event} rows failed; inserting each event alone`, { reason: reasonOf(err) });
    }
    for (const e of alone) {
      try {
        await insert(writer, how.table, [e]);
        e.delivery.ack();
      } catch (err) {
        await blameOrRethrow(storeAnswers, how, e, err, logger);
      }
    }
  }
}

interface Stored<T> {
  readonly delivery: Delivery<T>;
  readonly rows: Record<string, unknown>[];
}

function storableRows<T>(how: TableDelivery<T>, d: Delivery<T>, receivedAtMs: number, logger: Logger) {
  const rows: Record<string, unknown>[] = [];
  for (const checked of how.rowsOf(d.message, receivedAtMs)) {
    for (const p of checked.problems) {
      const what =
        p.action === 'skipped' ? 'skipped a row' : `stored ${p.action === 'null' ? 'NULL' : 'the receive time'}`;
      logger.warn(`${how.event}: ${p.field} ${String(p.value)} is out of range; ${what}`, {
        event: how.event,
        sequence: d.sequence,
        field: p.field,
        value: String(p.value),
      });
    }
    if (checked.row) rows.push(checked.row);
  }
  return rows;
}

/** Consecutive events, at most `maxRows` rows per group unless one event alone has more. */
function groupsOf<T>(events: Stored<T>[], maxRows: number): Stored<T>[][] {
  const groups: Stored<T>[][] = [];
  let current: Stored<T>[] = [];
  let rows = 0;
  for (const e of events) {
    if (current.length > 0 && rows + e.rows.length > maxRows) {
      groups.push(current);
      current = [];
      rows = 0;
    }
    current.push(e);
    rows += e.rows.length;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

async function insert<T>(writer: BatchedWriter, table: string, group: Stored<T>[]): Promise<void> {
  writer.add(
    table,
    group.flatMap((e) => e.rows),
  );
  await writer.flush(table);
}

/** An event that failed alone: its own fault if ClickHouse answers, else the store's (rethrown). */
async function blameOrRethrow<T>(
  storeAnswers: () => Promise<boolean>,
  how: TableDelivery<T>,
  e: Stored<T>,
  err: unknown,
  logger: Logger,
): Promise<void> {
  if (!(await storeAnswers().catch(() => false))) throw err;
  const d = e.delivery;
  if (d.deliveries >= how.maxDeliveries) {
    logger.error(`dropped a ${how.event} event after ${d.deliveries} failed deliveries`, {
      subject: d.subject,
      sequence: d.sequence,
      reason: reasonOf(err),
    });
    d.term();
  } else {
    logger.warn(`ClickHouse rejected a ${how.event} event; retrying`, {
      subject: d.subject,
      sequence: d.sequence,
      deliveries: d.deliveries,
      reason: reasonOf(err),
    });
    d.nak(redeliveryDelayMs(how.retryDelayMs, d.deliveries));
  }
}

/** ClickHouse's message without its stack and echoed query: one short line per failure. */
const reasonOf = (err: unknown) => String((err as Error)?.message ?? err).slice(0, 300);
