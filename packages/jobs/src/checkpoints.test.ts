import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@sift/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { JobCheckpoints, jsonCodec } from './checkpoints.js';

const dirs: string[] = [];
const jobDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sift-checkpoints-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const logger = createLogger('checkpoints-test', 'error');

describe('JobCheckpoints', () => {
  it('computes a stage once; a later worker on the same folder reads the saved result', async () => {
    const dir = jobDir();
    let computed = 0;
    const stage = () => {
      computed++;
      return Promise.resolve({ bestLayer: 4, distances: [0.12, 0.5] });
    };
    const first = await new JobCheckpoints(dir, logger).once('distances.json', jsonCodec(), stage);
    const second = await new JobCheckpoints(dir, logger).once('distances.json', jsonCodec(), stage);
    expect(second).toEqual(first);
    expect(computed).toBe(1);
    expect(readdirSync(dir)).toEqual(['checkpoint-distances.json']);
  });

  it('saves nothing for a stage that failed, so the next attempt computes it', async () => {
    const dir = jobDir();
    const checkpoints = new JobCheckpoints(dir, logger);
    await expect(
      checkpoints.once('metrics.json', jsonCodec(), () => Promise.reject(new Error('killed'))),
    ).rejects.toThrow('killed');
    expect(readdirSync(dir)).toEqual([]);
    expect(await checkpoints.once('metrics.json', jsonCodec(), () => Promise.resolve(7))).toBe(7);
  });

  it('converts through the given codec both ways', async () => {
    const dir = jobDir();
    const codec = jsonCodec(
      (v: Float32Array) => Array.from(v),
      (o: number[]) => Float32Array.from(o),
    );
    await new JobCheckpoints(dir, logger).once('v', codec, () => Promise.resolve(Float32Array.of(1.5, -2)));
    const again = await new JobCheckpoints(dir, logger).once('v', codec, () => Promise.reject(new Error('unused')));
    expect(again).toBeInstanceOf(Float32Array);
    expect(Array.from(again)).toEqual([1.5, -2]);
  });

  it('recomputes and overwrites a checkpoint that does not decode, warning with its path', async () => {
    const dir = jobDir();
    const path = join(dir, 'checkpoint-distances.json');
    writeFileSync(path, '{"values": [0.1, 0.');
    const warnings: Record<string, unknown>[] = [];
    const log = { ...logger, warn: (_msg: string, fields?: Record<string, unknown>) => warnings.push(fields ?? {}) };
    const value = await new JobCheckpoints(dir, log).once('distances.json', jsonCodec(), () => Promise.resolve([1]));
    expect(value).toEqual([1]);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([1]);
    expect(warnings).toEqual([expect.objectContaining({ checkpoint: 'distances.json', path })]);
  });
});
