import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pruningV1 } from '@sift/contracts';
import { ModelStore } from '@sift/inference';
import { JobCheckpoints } from '@sift/jobs';
import { createLogger } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDecoder, resolveDecoder } from '../src/pipeline/decoder-model.js';
import { pruneModel } from '../src/pipeline/pruning.js';

const models = fileURLToPath(new URL('../../../models', import.meta.url));
const inline = (texts: string[]) => ({ source: { $case: 'inline' as const, value: { texts } } });
const prose = (seed: number) =>
  Array.from(
    { length: 6 },
    (_, i) =>
      `Record ${seed * 10 + i}: the service reads the calibration text, measures every block of layers and ` +
      'keeps the model that loses the least; a healed cut is fitted by least squares on the same activations.',
  );

describe('a pruning job that is run again', () => {
  const root = mkdtempSync(join(tmpdir(), 'sift-resume-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads the distances, healed graph and figures it saved instead of recomputing them, and recomputes damaged ones, with the same result', async () => {
    const store = join(root, 'models');
    cpSync(join(models, 'byte-gpt'), join(store, 'byte-gpt'), { recursive: true });
    const modelStore = new ModelStore(store);
    const decoder = await loadDecoder(await resolveDecoder(modelStore, { name: 'byte-gpt', version: '1' }));
    const spec = pruningV1.PruningSpec.fromPartial({
      model: { name: 'byte-gpt', version: '1' },
      blockSize: 1,
      calibration: { texts: inline(prose(1)), sequenceLength: 64 },
      healing: { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES },
      evaluation: { texts: inline(prose(2)), latencyRuns: 1 },
    });
    const jobDir = join(root, 'job');
    const run = async () => {
      const stages: string[] = [];
      const { result } = await pruneModel(decoder, spec, undefined, {
        jobId: 'job-resume-test',
        models: modelStore,
        runtime: { threads: 2, provider: 'cpu', logger: createLogger('resume-test', 'warn') },
        signal: new AbortController().signal,
        checkpoints: new JobCheckpoints(jobDir, createLogger('resume-test', 'warn')),
        stage: (name) => stages.push(name),
        tick: () => {},
      });
      return { result, stages };
    };
    const first = await run();
    expect(first.stages).toEqual(expect.arrayContaining(['capture', 'heal', 'evaluate', 'store']));
    expect(readdirSync(jobDir).sort()).toEqual([
      'checkpoint-distances.json',
      'checkpoint-healed-model.bin',
      'checkpoint-metrics.json',
    ]);

    // As after a worker died just before storing: every stage before it is read back.
    const second = await run();
    expect(second.stages).not.toContain('capture');
    expect(second.stages).not.toContain('heal');
    expect(second.stages).not.toContain('evaluate');
    expect(second.result).toEqual(first.result);
    // The version the first run stored is found by its job id, not stored twice.
    expect(second.result.prunedModel).toEqual({ name: 'byte-gpt-pruned', version: '1' });
    expect(readdirSync(join(store, 'byte-gpt-pruned'))).toEqual(['1']);
    expect(readdirSync(join(store, 'byte-gpt'))).toEqual(['1']);
    const healed = readFileSync(join(jobDir, 'checkpoint-healed-model.bin'));
    expect(
      readFileSync(join(store, 'byte-gpt-pruned/1/model.onnx')).equals(healed.subarray(4 + healed.readUInt32LE(0))),
    ).toBe(true);

    // Damaged checkpoints are recomputed, not trusted: distances cut to 3 values once chose block 0 while the
    // reused healed graph was the layer-1 one, and a garbage graph failed as "not an ONNX model".
    const distancesPath = join(jobDir, 'checkpoint-distances.json');
    const saved = JSON.parse(readFileSync(distancesPath, 'utf8'));
    writeFileSync(distancesPath, JSON.stringify({ ...saved, values: saved.values.slice(0, 3) }));
    writeFileSync(join(jobDir, 'checkpoint-healed-model.bin'), Buffer.from('not a checkpoint at all'));
    const third = await run();
    expect(third.stages).toEqual(expect.arrayContaining(['capture', 'heal']));
    expect(third.stages).not.toContain('evaluate');
    expect(third.result).toEqual(first.result);
    expect(JSON.parse(readFileSync(distancesPath, 'utf8')).values).toHaveLength(saved.values.length);
  }, 120_000);
});
