import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { encodeModel } from './onnx-writer.js';

const { onnx } = onnxProto;

describe('encodeModel', () => {
  it('writes IR 8 / opset 17 with dynamic axes and little-endian raw initializers', () => {
    const bytes = encodeModel({
      graphName: 'scale',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
      initializers: [{ name: 'w', dtype: 'float32', dims: [2], data: Float32Array.of(1, -2) }],
      nodes: [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    const model = onnx.ModelProto.decode(bytes);
    expect(Number(model.irVersion)).toBe(8);
    expect(Number(model.opsetImport[0]!.version)).toBe(17);
    const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!;
    expect(dims.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 2]);
    const w = model.graph!.initializer![0]!;
    expect(Array.from(w.rawData ?? [])).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect(model.graph!.node![0]!.opType).toBe('Mul');
  });

  it('rejects an initializer whose dims do not match its data', () => {
    expect(() =>
      encodeModel({
        graphName: 'bad',
        inputs: [],
        outputs: [],
        initializers: [{ name: 'w', dtype: 'int64', dims: [3], data: BigInt64Array.of(1n) }],
        nodes: [],
      }),
    ).toThrow(/dims \[3\]/);
  });
});
