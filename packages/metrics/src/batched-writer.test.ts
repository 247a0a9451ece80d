import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchedWriter } from './batched-writer.js';
import { migrate, openMetricsStore } from './store.js';

const row = (i: number) => ({
  finished_at: Date.UTC(2026, 10, 27, 12, 0, i),
  service: 'embedding',
  method: 'Embed',
  status: 'OK',
  latency_ms: i,
  batch_size: 1,
  model_name: 'glove-sif-100d',
  model_version: '1',
});

describe('BatchedWriter on the embedded ClickHouse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sift-writer-'));
  let client: ClickHouseClient;
  beforeAll(async () => {
    client = await openMetricsStore({ embeddedPath: dir });
    await migrate(client);
  });
  afterAll(async () => {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async () => {
    const rs = await client.query({ query: 'SELECT count() AS n FROM requests', format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n);
  };

  it('inserts a table in chunks of maxRows, and a failed table never takes or acks another table’s rows', async () => {
    const writer = new BatchedWriter(client, { maxRows: 4 });
    writer.add('requests', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(row));
    writer.add('no_such_table', [row(0)]);
    // The failing table's flush rejects, so its caller does not ack; the other table's rows are untouched.
    await expect(writer.flush('no_such_table')).rejects.toThrow();
    expect(writer.buffered()).toBe(10);
    await writer.flush('requests');
    expect(await count()).toBe(10);
    expect(writer.rowsWritten()).toBe(10);
    expect(writer.buffered()).toBe(0);
  });
});
