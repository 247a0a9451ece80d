import type { ClickHouseClient } from '@clickhouse/client';

/** Options of a batched writer: rows go out when `maxRows` are buffered or `maxDelayMs` passed. */
export interface BatchedWriterOptions {
  maxRows: number;
  maxDelayMs: number;
}

/**
 * Buffers rows per table and inserts them in batches: ClickHouse wants few large inserts, not one per
 * event. `flush` resolves once everything buffered so far is stored, so callers can ack their sources.
 */
export class BatchedWriter {
  private readonly buffers = new Map<string, Record<string, unknown>[]>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private written = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly opts: BatchedWriterOptions,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Adds rows for `table`; may trigger a flush. */
  add(table: string, rows: Record<string, unknown>[]): void {
    const buf = this.buffers.get(table) ?? [];
    buf.push(...rows);
    this.buffers.set(table, buf);
    if (this.buffered() >= this.opts.maxRows) void this.flush().catch(this.onError);
    else this.timer ??= setTimeout(() => void this.flush().catch(this.onError), this.opts.maxDelayMs);
  }

  /** Rows waiting to be inserted. */
  buffered(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.length;
    return n;
  }

  /** Rows inserted since start. */
  rowsWritten(): number {
    return this.written;
  }

  /** Inserts everything buffered; rejects (keeping nothing lost to the caller's source) when an insert fails. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const pending = [...this.buffers.entries()];
    this.buffers.clear();
    this.chain = this.chain
      .catch(() => undefined)
      .then(async () => {
        for (const [table, values] of pending) {
          if (values.length === 0) continue;
          await this.client.insert({ table, values, format: 'JSONEachRow' });
          this.written += values.length;
        }
      });
    return this.chain;
  }
}
