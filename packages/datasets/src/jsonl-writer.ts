import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { RecordWriter } from './record-writer.js';

/**
 * Opens a JSONL writer (gzip-compressed when asked) on `temporaryPath`, renamed to `path` on close.
 * Memory is the stream's buffer: `write` resolves only once the stream has room again.
 */
export async function openJsonlWriter(path: string, temporaryPath: string, gzip: boolean): Promise<RecordWriter> {
  const file = createWriteStream(temporaryPath, { flags: 'wx' });
  await once(file, 'open');
  return new JsonlRecordWriter(path, temporaryPath, file, gzip);
}

class JsonlRecordWriter implements RecordWriter {
  count = 0;
  private readonly sink: Writable;
  private readonly done: Promise<void>;
  private failure: unknown;
  private state: 'open' | 'closed' | 'aborted' = 'open';

  constructor(
    readonly path: string,
    private readonly temporaryPath: string,
    private readonly file: WriteStream,
    gzip: boolean,
  ) {
    if (gzip) {
      const compressor = createGzip();
      this.sink = compressor;
      this.done = pipeline(compressor, file);
    } else {
      this.sink = file;
      this.done = finished(file);
    }
    // Remembered so the next call reports it; also keeps the rejection from being unhandled.
    this.done.catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  async write(raw: Record<string, unknown>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.state !== 'open') throw new Error(`record writer for ${this.path} is ${this.state}`);
    const line = `${JSON.stringify(raw, jsonValue)}\n`;
    this.count += 1;
    if (!this.sink.write(line)) await once(this.sink, 'drain');
  }

  async close(): Promise<void> {
    if (this.state !== 'open') throw new Error(`record writer for ${this.path} is ${this.state}`);
    this.state = 'closed';
    try {
      this.sink.end();
      await this.done;
      if (!this.file.closed) await once(this.file, 'close');
      await rename(this.temporaryPath, this.path);
    } catch (err) {
      await rm(this.temporaryPath, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'aborted';
    this.sink.destroy();
    this.file.destroy();
    await this.done.catch(() => {});
    await rm(this.temporaryPath, { force: true });
  }
}

/**
 * JSON.stringify replacer for values JSON has no form for, as Parquet yields them: a bigint becomes a number
 * when it is a safe integer and a decimal string otherwise (never silently rounded); bytes become base64.
 * Dates already become ISO strings through their toJSON.
 */
export function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}
