import type { ClickHouseClient } from '@clickhouse/client';

/**
 * Collects rows per table and inserts them in few large inserts (ClickHouse wants those, not one insert per
 * event): the metrics consumer adds the rows of every event in a fetched NATS batch, flushes that table, and
 * acks the events only once the flush resolved.
 *
 * Tables flush independently: a flush takes only its own table's rows, so one consumer can never ack rows
 * that another consumer's failed insert took. A failed insert rejects the flush and forgets the rows it held;
 * their events were not acked and are delivered again. Rows are inserted in chunks of at most `maxRows`;
 * when a later chunk fails, the earlier ones stay stored and come again with the redelivery
 * (at-least-once, see the consumer).
 */
export class BatchedWriter {
  private readonly buffers = new Map<string, Record<string, unknown>[]>();
  private written = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly opts: { maxRows: number },
  ) {}

  /** Adds rows for `table`; nothing is inserted until `flush(table)`. */
  add(table: string, rows: readonly Record<string, unknown>[]): void {
    const buf = this.buffers.get(table) ?? [];
    for (const row of rows) buf.push(row);
    this.buffers.set(table, buf);
  }

  /** Rows waiting to be inserted, over all tables. */
  buffered(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.length;
    return n;
  }

  /** Rows inserted since start. */
  rowsWritten(): number {
    return this.written;
  }

  /** Inserts `table`'s buffered rows; resolves once all are stored, rejects when an insert fails. */
  async flush(table: string): Promise<void> {
    const rows = this.buffers.get(table) ?? [];
    this.buffers.delete(table);
    for (let at = 0; at < rows.length; at += this.opts.maxRows) {
      const values = rows.slice(at, at + this.opts.maxRows);
      await this.client.insert({ table, values, format: 'JSONEachRow' });
      this.written += values.length;
    }
  }
}
