import { fileURLToPath } from 'node:url';
import { ModelStore } from '@sift/inference';
import { createLogger, SiftError } from '@sift/kit';
import { describe, expect, it } from 'vitest';
import { loadDecoder, resolveDecoder } from '../src/pipeline/decoder-model.js';
import { evaluationSettings, maxLatencyRuns, modelMetrics } from '../src/pipeline/evaluation.js';

const models = fileURLToPath(new URL('../../../models', import.meta.url));
const runtime = { threads: 2, provider: 'cpu' as const, logger: createLogger('evaluation-test', 'warn') };
const texts = ['The quick brown fox jumps over the lazy dog, and the dog sleeps on in the afternoon sun.'];

describe('evaluation of a model variant', () => {
  it('bounds latency_runs at submit, naming the field', () => {
    const settings = (latencyRuns: number) =>
      evaluationSettings({ texts: undefined, sequenceLength: 0, latencyRuns }, undefined, 256, 'spec.evaluation');
    expect(settings(0).latencyRuns).toBe(20);
    expect(settings(maxLatencyRuns).latencyRuns).toBe(1000);
    for (const runs of [maxLatencyRuns + 1, 4294967295]) {
      expect(() => settings(runs)).toThrow(
        new SiftError(
          'invalid_argument',
          `spec.evaluation.latency_runs ${runs} exceeds 1000; 0 means 20, which is enough for p50 and p95`,
        ),
      );
    }
  });

  it('reports progress after every timed run, so a cancel noticed by the job tick stops the latency loop', async () => {
    const decoder = await loadDecoder(await resolveDecoder(new ModelStore(models), { name: 'byte-gpt', version: '' }));
    const controller = new AbortController();
    const seen: [number, number][] = [];
    const measuring = modelMetrics(decoder.bytes, decoder.graph, decoder.layerCount, texts, {
      codec: decoder.codec,
      sequenceLength: 64,
      latencyRuns: maxLatencyRuns,
      runtime,
      signal: controller.signal,
      // What the job's tick does once it reads a cancel request: abort the job's controller.
      onProgress: (done, total) => {
        seen.push([done, total]);
        if (seen.length === 5) controller.abort(new SiftError('cancelled', 'cancelled by a client'));
      },
    });
    await expect(measuring).rejects.toMatchObject({ kind: 'cancelled' });
    // Two windows scored (one batch each: their lengths differ), then the two warm-up runs and the first timed
    // one, of 2 + 1002 units; the run after the abort never starts.
    expect(seen).toEqual([
      [1, 1004],
      [2, 1004],
      [3, 1004],
      [4, 1004],
      [5, 1004],
    ]);
  });
});
