import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@sift/kit';
import { writeAtomic } from './file-job-store.js';

/** How a checkpointed value becomes bytes and back. */
export interface CheckpointCodec<T> {
  encode(value: T): Uint8Array;
  /** Throws when the bytes are not a whole, valid value (the checkpoint is then recomputed). */
  decode(bytes: Uint8Array): T;
}

/** A codec through JSON, with optional conversions (e.g. a ts-proto message's `toJSON` / `fromJSON`). */
export function jsonCodec<T>(
  toJSON: (value: T) => unknown = (v) => v,
  fromJSON: (object: any) => T = (o) => o as T,
): CheckpointCodec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(toJSON(value))),
    decode: (bytes) => fromJSON(JSON.parse(Buffer.from(bytes).toString('utf8'))),
  };
}

/**
 * The results of a job's finished stages, one file each (`checkpoint-<name>`) in the job's folder. A job
 * that is redelivered after its worker died asks for every result again: a saved one is read instead of
 * recomputed, so the job continues after its last finished stage. A result is written atomically once it is
 * whole, so a worker killed mid-stage leaves no half checkpoint behind.
 */
export class JobCheckpoints {
  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** The saved value of `name`, or `compute()`'s, saved before it is returned. */
  async once<T>(name: string, codec: CheckpointCodec<T>, compute: () => Promise<T>): Promise<T> {
    const path = join(this.dir, `checkpoint-${name}`);
    const saved = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (saved) {
      // A checkpoint is a cache: one that does not decode (cut short, edited, an older layout, made for
      // another block) is recomputed and overwritten rather than trusted or failing the job.
      let decoded: { value: T } | undefined;
      try {
        decoded = { value: codec.decode(saved) };
      } catch (err) {
        this.log.warn('checkpoint unreadable, recomputing it', {
          checkpoint: name,
          path,
          reason: err instanceof Error ? err.message : String(err),
        });
      }
      if (decoded) {
        this.log.info('checkpoint reused', { checkpoint: name });
        return decoded.value;
      }
    }
    const value = await compute();
    await mkdir(this.dir, { recursive: true });
    await writeAtomic(path, codec.encode(value));
    return value;
  }
}
