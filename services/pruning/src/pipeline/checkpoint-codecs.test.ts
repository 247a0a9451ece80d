import { pruningV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { distancesCodec, healedGraphCodec, pruningMetricsCodec } from './checkpoint-codecs.js';

describe('pruning checkpoint codecs', () => {
  it('keeps a distance matrix, including the NaN of blocks that would remove the final layer', () => {
    const m = {
      layerCount: 3,
      maxBlockSize: 2,
      values: Float32Array.of(0.25, 0.5, 0.125, Number.NaN, Number.NaN, Number.NaN),
    };
    const back = distancesCodec.decode(distancesCodec.encode(m));
    expect(back.layerCount).toBe(3);
    expect(back.maxBlockSize).toBe(2);
    expect(Array.from(back.values)).toEqual(Array.from(m.values));
  });

  it('keeps a healed graph byte for byte with what healing did', () => {
    const spec = pruningV1.HealingSpec.fromPartial({
      method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES,
      placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
      foldedInto: '/model/blocks.3/mlp/proj/MatMul',
      ridgeAlpha: 0.001,
      maxTokens: 16384,
    });
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) % 256);
    const back = healedGraphCodec.decode(healedGraphCodec.encode({ spec, bytes }));
    expect(back.spec).toEqual(spec);
    expect(Buffer.from(back.bytes).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps before/after figures, with or without a healed variant', () => {
    const metrics = (bitsPerByte: number) =>
      pruningV1.ModelMetrics.fromPartial({
        bitsPerByte,
        perplexity: 2 ** bitsPerByte,
        latencyMsP50: 40.5,
        layerCount: 8,
      });
    for (const afterHealed of [metrics(2.3), undefined]) {
      const value = { before: metrics(2.0165), afterUnhealed: metrics(2.4), afterHealed };
      expect(pruningMetricsCodec.decode(pruningMetricsCodec.encode(value))).toEqual(value);
    }
  });
});
