import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type ClickHouseClient, createClient } from '@clickhouse/client';

/** Where metrics live: a ClickHouse server URL, or a folder for the embedded engine (chdb). */
export type MetricsTarget = { url: string; database?: string } | { embeddedPath: string };

/**
 * Opens the metrics store with `@clickhouse/client`. In production `url` points at a server or cluster;
 * by default chdb runs ClickHouse in-process on a local folder through the client's connection hook, so
 * the same queries and inserts serve both. Only one process may open an embedded folder at a time.
 */
export async function openMetricsStore(target: MetricsTarget): Promise<ClickHouseClient> {
  if ('url' in target) {
    return createClient({ url: target.url, ...(target.database ? { database: target.database } : {}) });
  }
  const { createChdbConnection } = await import('chdb/connection');
  return createClient({ connection: createChdbConnection({ path: target.embeddedPath }) as never });
}

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * Applies every `migrations/NNN_*.sql` in order and records it in `schema_migrations`, so a migration
 * runs once per database. Statements are idempotent (`IF NOT EXISTS`) as a second guard.
 */
export async function migrate(client: ClickHouseClient): Promise<string[]> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime64(3, 'UTC'))
            ENGINE = MergeTree ORDER BY name`,
  });
  const rs = await client.query({ query: 'SELECT name FROM schema_migrations', format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ name: string }>()).map((r) => r.name));
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  for (const file of files) {
    if (done.has(file)) continue;
    const sql = await readFile(migrationsDir + file, 'utf8');
    for (const statement of splitStatements(sql)) await client.command({ query: statement });
    await client.insert({
      table: 'schema_migrations',
      values: [{ name: file, applied_at: Date.now() }],
      format: 'JSONEachRow',
    });
    applied.push(file);
  }
  return applied;
}

function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
