/**
 * Shared reading of ONNX graphs for the pruning rewrites: decoding and copying models, who produces and
 * who reads each tensor, which layer a node belongs to, and which tensors are constants.
 */

import { SiftError } from '@sift/kit/errors';
import type { onnx as OnnxTypes } from 'onnx-proto';
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

/** A decoded ONNX model (`onnx.ModelProto`). */
export type OnnxModel = OnnxTypes.ModelProto;
export type OnnxGraph = OnnxTypes.IGraphProto;
export type OnnxNode = OnnxTypes.INodeProto;

/** `TensorProto.DataType` codes of floating-point element types (float, float16, double, bfloat16). */
const floatTypes = new Set([1, 10, 11, 16]);
export const float32Type = 1;

/**
 * Decodes `model.onnx` bytes. The decoded tensors may share memory with `bytes`; the rewrites here never
 * write into tensor data, and every rewrite works on its own copy, so `bytes` stays as it was.
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  let model: OnnxModel;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new SiftError('invalid_argument', 'not an ONNX model: the bytes do not decode as onnx.ModelProto', {
      cause: err,
    });
  }
  if (!model.graph) throw new SiftError('invalid_argument', 'ONNX model has no graph');
  return model;
}

/** Serialises a model to `model.onnx` bytes. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** A deep copy that shares nothing with `model` (round trip through the wire format). */
export function cloneModel(model: OnnxModel): OnnxModel {
  return onnx.ModelProto.decode(encodeOnnxModel(model));
}

export function graphOf(model: OnnxModel): OnnxGraph {
  if (!model.graph) throw new SiftError('invalid_argument', 'ONNX model has no graph');
  return model.graph;
}

export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Subgraphs held in a node's attributes (If, Loop, Scan bodies). */
function subgraphs(node: OnnxNode): OnnxGraph[] {
  const out: OnnxGraph[] = [];
  for (const a of node.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

/**
 * Every name a node reads: its inputs, plus every name read anywhere inside its subgraphs (a superset of
 * the outer-scope names they capture, which is safe for liveness: it can only keep more alive).
 */
export function namesRead(node: OnnxNode): string[] {
  const names = (node.input ?? []).filter((n) => n !== '');
  for (const g of subgraphs(node)) for (const inner of g.node ?? []) names.push(...namesRead(inner));
  return names;
}

/** Renames tensors read by `node` (also inside its subgraphs; shadowing names there are not expected). */
export function renameReads(node: OnnxNode, rename: (name: string) => string): void {
  if (node.input) node.input = node.input.map((n) => (n === '' ? n : rename(n)));
  for (const g of subgraphs(node)) for (const inner of g.node ?? []) renameReads(inner, rename);
}

/** Producers and readers of every tensor of a graph, by node position. */
export interface GraphIndex {
  readonly nodes: readonly OnnxNode[];
  readonly producer: ReadonlyMap<string, number>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
  readonly initializers: ReadonlySet<string>;
  readonly graphInputs: ReadonlySet<string>;
  readonly graphOutputs: ReadonlySet<string>;
}

export function indexGraph(graph: OnnxGraph): GraphIndex {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  const readers = new Map<string, number[]>();
  nodes.forEach((node, i) => {
    for (const o of node.output ?? []) if (o !== '') producer.set(o, i);
    for (const name of new Set(namesRead(node))) {
      const list = readers.get(name);
      if (list) list.push(i);
      else readers.set(name, [i]);
    }
  });
  return {
    nodes,
    producer,
    readers,
    initializers: new Set((graph.initializer ?? []).map((t) => t.name ?? '')),
    graphInputs: new Set((graph.input ?? []).map((v) => v.name ?? '')),
    graphOutputs: new Set((graph.output ?? []).map((v) => v.name ?? '')),
  };
}

/** Whether a tensor exists in the graph: produced by a node, a graph input or an initializer. */
export function tensorExists(index: GraphIndex, name: string): boolean {
  return index.producer.has(name) || index.graphInputs.has(name) || index.initializers.has(name);
}

/**
 * Tensors that depend on some graph input (that is not also an initializer); everything else (initializers,
 * Constant outputs, shapes folded from constants) is a constant and never a residual stream.
 */
export function dynamicTensors(index: GraphIndex): Set<string> {
  const dynamic = new Set<string>();
  for (const name of index.graphInputs) if (!index.initializers.has(name)) dynamic.add(name);
  for (const node of index.nodes) {
    if (namesRead(node).some((n) => dynamic.has(n))) for (const o of node.output ?? []) dynamic.add(o);
  }
  return dynamic;
}

/** Element type of a tensor when the graph declares it (value_info, inputs, outputs); 0 when unknown. */
export function declaredElementType(graph: OnnxGraph, name: string): number {
  for (const list of [graph.valueInfo, graph.input, graph.output]) {
    const v = (list ?? []).find((x) => x.name === name);
    const t = v?.type?.tensorType?.elemType;
    if (t) return t;
  }
  const init = (graph.initializer ?? []).find((t) => t.name === name);
  return init?.dataType ?? 0;
}

/** Whether a tensor may hold floats: its declared element type is floating point, or unknown. */
export function mayBeFloat(graph: OnnxGraph, name: string): boolean {
  const t = declaredElementType(graph, name);
  return t === 0 || floatTypes.has(t);
}

/** A copy of `pattern` without the global/sticky flags (whose lastIndex state would skip matches). */
function stateless(pattern: RegExp): RegExp {
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
}

/**
 * Assigns nodes to layers: the first capture group of `pattern` in the node's name is its layer. A node
 * without a name is judged by its first output's name (exporters name tensors after their nodes).
 */
export class LayerMembership {
  private readonly pattern: RegExp;
  private readonly withIndices: RegExp;

  constructor(pattern: RegExp) {
    this.pattern = stateless(pattern);
    this.withIndices = new RegExp(this.pattern.source, `${this.pattern.flags}d`);
  }

  /** The node's layer, or undefined for nodes outside every layer (embedding, final norm, head). */
  layerOf(node: OnnxNode): number | undefined {
    const m = this.pattern.exec(this.label(node));
    if (!m || m[1] === undefined) return undefined;
    const layer = Number.parseInt(m[1], 10);
    return Number.isFinite(layer) ? layer : undefined;
  }

  /** The node's label with its layer number replaced by `layer`; unchanged outside layers. */
  relabel(node: OnnxNode, layer: number): string {
    const label = this.label(node);
    const m = this.withIndices.exec(label);
    const span = m?.indices?.[1];
    if (!span) return label;
    return `${label.slice(0, span[0])}${layer}${label.slice(span[1])}`;
  }

  /**
   * The label moved out of every layer (`/h.3/` -> `/h.removed-3/`, which the pattern no longer matches),
   * for a node of a removed layer that stays in the graph.
   */
  detach(node: OnnxNode): string {
    const label = this.label(node);
    const span = this.withIndices.exec(label)?.indices?.[1];
    return span ? `${label.slice(0, span[0])}removed-${label.slice(span[0], span[1])}${label.slice(span[1])}` : label;
  }

  /** The label with the layer number masked, so that the same operator of two layers compares equal. */
  role(node: OnnxNode): string {
    const label = this.label(node);
    const m = this.withIndices.exec(label);
    const span = m?.indices?.[1];
    return span ? `${label.slice(0, span[0])}*${label.slice(span[1])}` : label;
  }

  private label(node: OnnxNode): string {
    return node.name || node.output?.[0] || '';
  }
}

/** Float32 values as an ONNX TensorProto's raw_data (little-endian, whatever the host's byte order). */
export function littleEndianFloat32(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}

/** The values of a float32 initializer, from raw_data or float_data; external data is not supported. */
export function initializerFloat32(tensor: OnnxTypes.ITensorProto): Float32Array {
  if (tensor.dataType !== float32Type) {
    throw new SiftError('invalid_argument', `initializer ${tensor.name}: element type ${tensor.dataType}, not float32`);
  }
  const count = (tensor.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1);
  if (tensor.rawData && tensor.rawData.length > 0) {
    const raw = tensor.rawData;
    if (raw.length !== count * 4) {
      throw new SiftError('invalid_argument', `initializer ${tensor.name}: ${raw.length} bytes for ${count} floats`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
  }
  if ((tensor.externalData ?? []).length > 0) {
    throw new SiftError(
      'unimplemented',
      `initializer ${tensor.name} is stored as external data, which is not read here`,
    );
  }
  const values = Float32Array.from(tensor.floatData ?? []);
  if (values.length !== count) {
    throw new SiftError('invalid_argument', `initializer ${tensor.name}: ${values.length} floats for dims of ${count}`);
  }
  return values;
}
