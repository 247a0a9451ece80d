/**
 * ReplaceMe's zero-parameter healing (Shopkhoev et al. 2025): the stream entering a cut is x = Y + M, where
 * M is the output projection of the layer before the cut (the MLP's down projection in a pre-norm
 * transformer) and Y is that layer's residual. A map T with M T ≈ L − Y (L: the stream after the removed
 * block) bridges the cut, and since M = h W + b it folds into the projection: W ← W T, b ← b T.
 */

import { SiftError } from '@sift/kit/errors';
import {
  cloneModel,
  dynamicTensors,
  float32Type,
  type GraphIndex,
  graphOf,
  indexGraph,
  initializerFloat32,
  littleEndianFloat32,
  type OnnxGraph,
  type OnnxModel,
  onnx,
  toNumber,
} from './onnx-graph-index.js';

/** Where a boundary tensor x = Y + M comes from, when M is a foldable projection. */
export interface OutputProjection {
  /** x, the boundary tensor. */
  readonly stream: string;
  /** Y, the residual input of the Add that produces x. */
  readonly residual: string;
  /** M, the projection's output (after its bias, when it has one). */
  readonly projection: string;
  /** The MatMul node computing h W. */
  readonly matmulNode: string;
  /** W, a float32 initializer [inputFeatures, outputFeatures]. */
  readonly weight: string;
  /** b, a float32 initializer [outputFeatures], when the projection has a bias Add. */
  readonly bias: string | undefined;
  readonly inputFeatures: number;
  readonly outputFeatures: number;
}

export type ProjectionSearch = { found: true; projection: OutputProjection } | { found: false; reason: string };

/**
 * Looks for the pattern x = Add(Y, M) with M = MatMul(h, W) or Add(MatMul(h, W), b), W and b float32
 * initializers, and M read by nothing but that Add (otherwise folding T into W would change other
 * readers). Says why not when the pattern is absent: the embedding output of layer 0, a Gemm, a shared
 * intermediate tensor.
 */
export function findOutputProjection(model: OnnxModel, stream: string): ProjectionSearch {
  const graph = graphOf(model);
  const index = indexGraph(graph);
  const add = nodeProducing(index, stream);
  if (add?.opType !== 'Add' || (add.input ?? []).length !== 2) {
    return { found: false, reason: `${stream} is not produced by a residual Add (${add?.opType ?? 'no node'})` };
  }
  const dynamic = dynamicTensors(index);
  const [a, b] = add.input as [string, string];
  if (!dynamic.has(a) || !dynamic.has(b)) {
    return { found: false, reason: `the Add producing ${stream} adds a constant, not a residual branch` };
  }
  const candidates = [
    { projection: b, residual: a },
    { projection: a, residual: b },
  ].flatMap(({ projection, residual }) => {
    const m = projectionOf(graph, index, projection);
    return m ? [{ ...m, projection, residual, stream }] : [];
  });
  if (candidates.length !== 1) {
    return {
      found: false,
      reason:
        candidates.length === 0
          ? `neither input of the Add producing ${stream} is a MatMul by a 2-D weight (with or without a bias Add) read only there`
          : `both inputs of the Add producing ${stream} are projections; which one is the residual is ambiguous`,
    };
  }
  return { found: true, projection: candidates[0] as OutputProjection };
}

function nodeProducing(index: GraphIndex, tensor: string) {
  const i = index.producer.get(tensor);
  return i === undefined ? undefined : index.nodes[i];
}

function onlyReader(index: GraphIndex, tensor: string): boolean {
  return (index.readers.get(tensor) ?? []).length === 1 && !index.graphOutputs.has(tensor);
}

/** M = MatMul(h, W) [+ b] as described in {@link findOutputProjection}, or undefined. */
function projectionOf(
  graph: OnnxGraph,
  index: GraphIndex,
  m: string,
): Omit<OutputProjection, 'projection' | 'residual' | 'stream'> | undefined {
  if (!onlyReader(index, m)) return undefined;
  let node = nodeProducing(index, m);
  let bias: string | undefined;
  if (node?.opType === 'Add') {
    const inputs = node.input ?? [];
    bias = inputs.find((n) => index.initializers.has(n));
    const product = inputs.find((n) => n !== bias);
    if (!bias || !product || !onlyReader(index, product)) return undefined;
    node = nodeProducing(index, product);
  }
  if (node?.opType !== 'MatMul') return undefined;
  const weight = node.input?.[1] ?? '';
  const w = initializer(graph, weight);
  if (!w || w.dataType !== float32Type || (w.dims ?? []).length !== 2) return undefined;
  const [inputFeatures, outputFeatures] = (w.dims ?? []).map(toNumber) as [number, number];
  if (bias !== undefined) {
    const t = initializer(graph, bias);
    const dims = (t?.dims ?? []).map(toNumber);
    if (t?.dataType !== float32Type || dims.length !== 1 || dims[0] !== outputFeatures) return undefined;
  }
  return { matmulNode: node.name ?? '', weight, bias, inputFeatures, outputFeatures };
}

function initializer(graph: OnnxGraph, name: string) {
  return (graph.initializer ?? []).find((t) => t.name === name);
}

/** (rows × inner) · (inner × cols), row-major float32 with float64 sums. */
function multiply(a: Float32Array, b: Float32Array, rows: number, inner: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    for (let k = 0; k < inner; k++) {
      const x = a[r * inner + k]!;
      if (x === 0) continue;
      const row = k * cols;
      for (let c = 0; c < cols; c++) acc[c]! += x * b[row + c]!;
    }
    out.set(acc, r * cols);
  }
  return out;
}

/**
 * A copy of the model whose projection computes (h W + b) T, so that x = Y + M T. The products are stored
 * as new initializers (`<W>.replaceme`, `<b>.replaceme`) that the MatMul and bias Add read, so a weight
 * tied elsewhere keeps its value there; an old initializer that nothing reads any more is removed.
 */
export function foldLinearMap(model: OnnxModel, projection: OutputProjection, t: Float32Array): OnnxModel {
  const d = projection.outputFeatures;
  if (t.length !== d * d) {
    throw new SiftError('invalid_argument', `fold: T has ${t.length} values, the projection needs ${d} × ${d}`);
  }
  const copy = cloneModel(model);
  const graph = graphOf(copy);
  const replaced = new Map<string, { name: string; values: Float32Array; dims: number[] }>();
  const w = initializer(graph, projection.weight);
  if (!w) throw new SiftError('invalid_argument', `fold: no initializer ${projection.weight}`);
  replaced.set(projection.weight, {
    name: `${projection.weight}.replaceme`,
    values: multiply(initializerFloat32(w), t, projection.inputFeatures, d, d),
    dims: [projection.inputFeatures, d],
  });
  if (projection.bias !== undefined) {
    const b = initializer(graph, projection.bias);
    if (!b) throw new SiftError('invalid_argument', `fold: no initializer ${projection.bias}`);
    replaced.set(projection.bias, {
      name: `${projection.bias}.replaceme`,
      values: multiply(initializerFloat32(b), t, 1, d, d),
      dims: [d],
    });
  }
  const index = indexGraph(graph);
  const matmul = index.nodes.find((n) => n.name === projection.matmulNode);
  const biasAdd = nodeProducing(index, projection.projection);
  for (const node of [matmul, projection.bias === undefined ? undefined : biasAdd]) {
    if (node) node.input = (node.input ?? []).map((n) => replaced.get(n)?.name ?? n);
  }
  const stillRead = new Set(index.nodes.flatMap((n) => n.input ?? []));
  graph.initializer = [
    ...(graph.initializer ?? []).filter((i) => !replaced.has(i.name ?? '') || stillRead.has(i.name ?? '')),
    ...[...replaced.values()].map((r) =>
      onnx.TensorProto.create({
        name: r.name,
        dataType: float32Type,
        dims: r.dims,
        rawData: littleEndianFloat32(r.values),
      }),
    ),
  ];
  return copy;
}
