/**
 * Writes small ONNX models (ModelProto bytes) from TypeScript with the `onnx-proto` message classes:
 * initializers as little-endian `raw_data`, nodes with attributes, and graph inputs/outputs whose string
 * dimensions become dynamic axes (`dim_param`). Targets IR version 8 and the default-domain opset 17,
 * which every onnxruntime from 1.13 on runs.
 */

import type { onnx as OnnxTypes } from 'onnx-proto';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const IR_VERSION = 8;
export const OPSET_VERSION = 17;

/** Element types this writer handles, by their `onnx.TensorProto.DataType` codes. */
export const dataTypes = { float32: 1, int64: 7, bool: 9 } as const;
export type ElementType = keyof typeof dataTypes;

/** A constant tensor stored in the graph. */
export type Initializer =
  | { readonly name: string; readonly dtype: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly name: string; readonly dtype: 'int64'; readonly dims: readonly number[]; readonly data: BigInt64Array };

/** Node attribute values: integers, floats, strings, or lists of integers / floats. */
export type AttributeValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly string: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] };

/** One operator application. */
export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** A graph input or output: numbers are fixed dimensions, strings are dynamic axes (`dim_param`). */
export interface ValueSpec {
  readonly name: string;
  readonly dtype: ElementType;
  readonly shape: readonly (number | string)[];
  readonly doc?: string;
}

/** Everything that goes into one single-graph model. */
export interface ModelSpec {
  readonly graphName: string;
  readonly docString?: string;
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly initializers: readonly Initializer[];
  readonly nodes: readonly NodeSpec[];
  /** Free-form key/value pairs stored as `metadata_props`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

function expectedLength(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Little-endian bytes of a typed array, independent of the host's byte order. */
function littleEndianBytes(t: Initializer): Uint8Array {
  const bytes = new Uint8Array(t.data.length * (t.dtype === 'float32' ? 4 : 8));
  const view = new DataView(bytes.buffer);
  if (t.dtype === 'float32') {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(i * 4, t.data[i]!, true);
  } else {
    for (let i = 0; i < t.data.length; i++) view.setBigInt64(i * 8, t.data[i]!, true);
  }
  return bytes;
}

function tensorProto(t: Initializer): OnnxTypes.ITensorProto {
  if (expectedLength(t.dims) !== t.data.length) {
    throw new RangeError(`initializer ${t.name}: dims [${t.dims.join(', ')}] do not match ${t.data.length} values`);
  }
  return { name: t.name, dataType: dataTypes[t.dtype], dims: [...t.dims], rawData: littleEndianBytes(t) };
}

function attributeProto(name: string, value: AttributeValue): OnnxTypes.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  if ('int' in value) return { name, type: types.INT, i: value.int };
  if ('float' in value) return { name, type: types.FLOAT, f: value.float };
  if ('string' in value) return { name, type: types.STRING, s: new TextEncoder().encode(value.string) };
  if ('ints' in value) return { name, type: types.INTS, ints: [...value.ints] };
  return { name, type: types.FLOATS, floats: [...value.floats] };
}

function valueInfoProto(v: ValueSpec): OnnxTypes.IValueInfoProto {
  const dim = v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return {
    name: v.name,
    docString: v.doc ?? '',
    type: { tensorType: { elemType: dataTypes[v.dtype], shape: { dim } } },
  };
}

/** Serialises a model to ONNX protobuf bytes (what `model.onnx` holds). */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: 'sift-model-builders',
    producerVersion: '1',
    docString: spec.docString ?? '',
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName,
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        domain: '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attributeProto(k, v)),
      })),
      initializer: spec.initializers.map(tensorProto),
      input: spec.inputs.map(valueInfoProto),
      output: spec.outputs.map(valueInfoProto),
    },
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`invalid ONNX model ${spec.graphName}: ${err}`);
  return onnx.ModelProto.encode(model).finish();
}
