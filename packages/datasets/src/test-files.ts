import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DatasetRecord, type DatasetSpec, readRecords } from './index.js';

/** A fresh temporary directory per test, removed afterwards. */
export async function temporaryDirectory(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sift-datasets-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads a whole (small) dataset into an array. */
export async function readAll(spec: DatasetSpec): Promise<DatasetRecord[]> {
  const records: DatasetRecord[] = [];
  for await (const record of readRecords(spec)) records.push(record);
  return records;
}

/** JSONL text for the given objects, one per line. */
export function jsonl(objects: readonly unknown[]): string {
  return objects.map((object) => `${JSON.stringify(object)}\n`).join('');
}
