import { pruningV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, type OnnxModel } from '../adapters/onnx-graph.js';
import { distancesCodec, healedGraphCodec, pruningMetricsCodec } from './checkpoint-codecs.js';

const matrix = {
  layerCount: 3,
  maxBlockSize: 2,
  values: Float32Array.of(0.25, 0.5, 0.125, Number.NaN, Number.NaN, Number.NaN),
};

describe('distances checkpoint', () => {
  const codec = distancesCodec(3, 2);

  it('keeps a distance matrix, including the NaN of blocks that would remove the final layer', () => {
    const back = codec.decode(codec.encode(matrix));
    expect(back.layerCount).toBe(3);
    expect(back.maxBlockSize).toBe(2);
    expect(Array.from(back.values)).toEqual(Array.from(matrix.values));
  });

  it('refuses values cut short (3 of 3 x 2): the best block would be read from the wrong cells', () => {
    const cut = { ...matrix, values: matrix.values.slice(0, 3) };
    expect(() => codec.decode(codec.encode(cut))).toThrow('3 values for dims [3, 2] (expected 6)');
  });

  it("refuses dims that are not the model's layer count or the job's block size", () => {
    expect(() => distancesCodec(4, 2).decode(codec.encode(matrix))).toThrow('measured 3 layers, the model has 4');
    expect(() => distancesCodec(3, 1).decode(codec.encode(matrix))).toThrow('blocks up to 2 layers, the job needs 1');
    expect(() => codec.decode(Buffer.from('{"layerCount":3,"maxBlockSize":2}'))).toThrow('"values" is not an array');
  });
});

describe('healed model checkpoint', () => {
  const spec = pruningV1.HealingSpec.fromPartial({
    method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES,
    placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
    foldedInto: '/model/blocks.3/mlp/proj/MatMul',
    ridgeAlpha: 0.001,
    maxTokens: 16384,
  });
  const model = {
    irVersion: 8,
    graph: { name: 'healed', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }] },
  };
  const bytes = encodeOnnxModel(model as OnnxModel);
  const block = { startLayer: 1, blockSize: 2 };
  const codec = healedGraphCodec(block);

  it('keeps a healed graph byte for byte with what healing did, decoded', () => {
    const back = codec.decode(codec.encode({ spec, bytes, model: model as OnnxModel }));
    expect(back.spec).toEqual(spec);
    expect(Buffer.from(back.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(back.model.graph?.name).toBe('healed');
  });

  it('refuses a graph healed for another block (the report would name one block, the model cut another)', () => {
    const saved = healedGraphCodec({ startLayer: 0, blockSize: 2 }).encode({ spec, bytes, model: model as OnnxModel });
    expect(() => codec.decode(saved)).toThrow('made for layers from 0, 2 long, the job cuts 2 from layer 1');
  });

  it('refuses garbage for a graph, a changed byte and a file cut inside its header', () => {
    const garbage = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f);
    expect(() => codec.decode(codec.encode({ spec, bytes: garbage, model: model as OnnxModel }))).toThrow(
      'healed model checkpoint: not an ONNX model',
    );
    const flipped = Buffer.from(codec.encode({ spec, bytes, model: model as OnnxModel }));
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
    expect(() => codec.decode(flipped)).toThrow('do not match the sha256 saved with them');
    expect(() => codec.decode(flipped.subarray(0, 10))).toThrow('hold no whole header');
  });
});

describe('pruning metrics checkpoint', () => {
  const metrics = (bitsPerByte: number, layerCount: number) =>
    pruningV1.ModelMetrics.fromPartial({
      bitsPerByte,
      perplexity: 2 ** bitsPerByte,
      latencyMsP50: 40.5,
      latencyMsP95: 44,
      fileSizeBytes: 9000,
      parameterCount: 2000,
      layerCount,
    });
  const block = { startLayer: 2, blockSize: 1 };

  it('keeps before/after figures, with or without a healed variant', () => {
    for (const afterHealed of [metrics(2.3, 7), undefined]) {
      const codec = pruningMetricsCodec(8, block, afterHealed !== undefined);
      const value = { before: metrics(2.0165, 8), afterUnhealed: metrics(2.4, 7), afterHealed };
      expect(codec.decode(codec.encode(value))).toEqual(value);
    }
  });

  it('refuses figures that are missing, not finite, of another block or of the wrong layer count', () => {
    const healed = pruningMetricsCodec(8, block, true);
    const unhealedOnly = pruningMetricsCodec(8, block, false).encode({
      before: metrics(2, 8),
      afterUnhealed: metrics(2.4, 7),
      afterHealed: undefined,
    });
    expect(() => healed.decode(unhealedOnly)).toThrow('"afterHealed" is missing');
    const value = { before: metrics(Number.NaN, 8), afterUnhealed: metrics(2.4, 7), afterHealed: metrics(2.3, 7) };
    expect(() => healed.decode(healed.encode(value))).toThrow('bitsPerByte NaN is not a finite positive number');
    const fine = { ...value, before: metrics(2, 8) };
    const other = pruningMetricsCodec(8, { startLayer: 3, blockSize: 1 }, true).encode(fine);
    expect(() => healed.decode(other)).toThrow('made for layers from 3, 1 long');
    expect(() => pruningMetricsCodec(9, block, true).decode(healed.encode(fine))).toThrow('layer count 8, expected 9');
  });
});
