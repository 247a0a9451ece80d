import { fileURLToPath } from 'node:url';
import { pruningV1 } from '@sift/contracts';
import { ModelStore } from '@sift/inference';
import { createLogger } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { angularDistanceMatrix, blockInfluenceMatrix } from '../src/domain/angular-distance.js';
import { analyseBlocks, sessionOptions } from '../src/pipeline/analysis.js';
import { captureResidualStream, tokenSequences } from '../src/pipeline/calibration.js';
import { loadDecoder, resolveDecoder } from '../src/pipeline/decoder-model.js';

const models = fileURLToPath(new URL('../../../models', import.meta.url));
const texts = [
  'The quick brown fox jumps over the lazy dog.',
  'A journey of a thousand miles begins with a single step.',
  'To be, or not to be, that is the question.',
  'All that glitters is not gold.',
  'Ask not what your country can do for you.',
];
const runtime = { threads: 2, provider: 'cpu' as const, logger: createLogger('analysis-test', 'warn') };

describe('analyseBlocks on byte-gpt', () => {
  it('gives, batch by batch, the distances of the whole calibration set held at once', async () => {
    const decoder = await loadDecoder(await resolveDecoder(new ModelStore(models), { name: 'byte-gpt', version: '' }));
    const session = await ort.InferenceSession.create(decoder.bytes, sessionOptions(2));
    const sequences = tokenSequences(texts, 64, decoder.codec);
    const all = await captureResidualStream(
      session,
      decoder.boundaries.tensors,
      sequences,
      decoder.codec.padId,
      8,
      () => {},
    );
    await session.release();
    const options = { maxBlockSize: 7, finalLayer: 'mask' as const };
    const spec = (metric: pruningV1.DistanceMetric) =>
      pruningV1.AnalysisSpec.fromPartial({
        model: { name: 'byte-gpt' },
        metric,
        calibration: { texts: { source: { $case: 'inline', value: { texts } } }, sequenceLength: 64, batchSize: 2 },
      });
    const cases = [
      {
        metric: pruningV1.DistanceMetric.DISTANCE_METRIC_BLOCK_INFLUENCE_ALL_TOKENS,
        expected: blockInfluenceMatrix({ states: all.allTokens, rows: all.tokens, dim: all.dim }, options),
      },
      {
        metric: pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN,
        expected: angularDistanceMatrix({ states: all.lastToken, rows: all.texts, dim: all.dim }, options),
      },
    ];
    for (const { metric, expected } of cases) {
      const batches: number[] = [];
      const run = await analyseBlocks(decoder, spec(metric), runtime, (done) => batches.push(done));
      expect(batches).toEqual([1, 2, 3]); // 5 texts in batches of 2
      expect(run.result.tokens).toBe(all.tokens);
      expect(run.result.samples).toBe(5);
      expected.values.forEach((v, i) => {
        if (Number.isNaN(v)) expect(run.distances.values[i]).toBeNaN();
        else expect(run.distances.values[i]).toBeCloseTo(v, 5);
      });
    }
  });
});
