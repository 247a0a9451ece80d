/**
 * The pruning service's ONNX graph rewrites, on models decoded with `onnx-proto`: find the residual stream
 * at every layer boundary, expose tensors as outputs (to capture the stream), cut a block of layers out,
 * and bridge the cut with a linear map. Every rewrite returns a new model and leaves its input untouched.
 */

import { SiftError } from '@sift/kit/errors';
import {
  cloneModel,
  declaredElementType,
  float32Type,
  graphOf,
  indexGraph,
  littleEndianFloat32,
  type OnnxModel,
  onnx,
  renameReads,
  tensorExists,
  toNumber,
} from './onnx-graph-index.js';

export {
  defaultHiddenStatePattern,
  type PrunedGraph,
  type RemoveBlockOptions,
  removeBlock,
  removedBlocksMetadataKey,
} from './onnx-block-removal.js';
export { cloneModel, decodeOnnxModel, encodeOnnxModel, type OnnxModel } from './onnx-graph-index.js';
export { defaultLayerPattern, findLayerBoundaries, type LayerBoundaries } from './onnx-layer-boundaries.js';
export {
  findOutputProjection,
  foldLinearMap,
  type OutputProjection,
  type ProjectionSearch,
} from './onnx-projection-fold.js';

/**
 * A copy of the model with `tensorNames` added as graph outputs (names already outputs are left alone), so
 * that a session can return intermediate tensors such as the residual stream. The output's type comes from
 * the graph's value_info when it has one; otherwise it is declared float with an unknown shape, which ONNX
 * Runtime accepts and fills in at run time.
 */
export function exposeOutputs(model: OnnxModel, tensorNames: readonly string[]): OnnxModel {
  const copy = cloneModel(model);
  const graph = graphOf(copy);
  const index = indexGraph(graph);
  const missing = tensorNames.filter((name) => !tensorExists(index, name));
  if (missing.length > 0)
    throw new SiftError('invalid_argument', `cannot expose ${missing.join(', ')}: no such tensor in the graph`);
  const outputs = graph.output ?? [];
  const already = new Set(outputs.map((o) => o.name));
  for (const name of tensorNames) {
    if (already.has(name)) continue;
    already.add(name);
    const declared = (graph.valueInfo ?? []).find((v) => v.name === name && v.type?.tensorType?.elemType);
    const type = declared?.type ?? { tensorType: { elemType: declaredElementType(graph, name) || float32Type } };
    outputs.push(onnx.ValueInfoProto.create({ name, type }));
  }
  graph.output = outputs;
  return copy;
}

/** Names given to the map inserted by {@link insertLinearMap}. */
export interface LinearMapInsertion {
  readonly model: OnnxModel;
  /** The initializer holding T. */
  readonly weightName: string;
  /** The MatMul node. */
  readonly nodeName: string;
  /** x T, the tensor the former readers of x now read. */
  readonly outputName: string;
}

export interface LinearMapOptions {
  /** Base of the new names: initializer `<name>.weight`, node `/<name>/MatMul`; default `sift_linear_bridge`. */
  name?: string;
}

/**
 * A copy of the model in which every node that read `tensorName` reads MatMul(`tensorName`, T) instead:
 * the training-free healing of a cut (x^start T ≈ x^(start+n), see `BlockBridgeFit`). T is row-major
 * [dims[0], dims[1]] float32 and multiplies the last axis. Graph outputs that name `tensorName` keep
 * returning it unchanged (a hidden-state output stays what the layer before wrote). The new node sits right
 * after the producer of `tensorName`, so node order stays topological. The map adds dims[0] × dims[1]
 * parameters; {@link foldLinearMap} is the zero-parameter alternative where the graph allows it.
 */
export function insertLinearMap(
  model: OnnxModel,
  tensorName: string,
  t: Float32Array,
  dims: readonly [number, number],
  opts: LinearMapOptions = {},
): LinearMapInsertion {
  const [rows, cols] = dims;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows * cols !== t.length) {
    throw new SiftError('invalid_argument', `linear map: dims [${dims.join(', ')}] do not match ${t.length} values`);
  }
  const copy = cloneModel(model);
  const graph = graphOf(copy);
  const index = indexGraph(graph);
  if (!tensorExists(index, tensorName))
    throw new SiftError('invalid_argument', `linear map: no tensor ${tensorName} in the graph`);
  const readers = index.readers.get(tensorName) ?? [];
  if (readers.length === 0) throw new SiftError('invalid_argument', `linear map: no node reads ${tensorName}`);
  const elemType = declaredElementType(graph, tensorName);
  if (elemType !== 0 && elemType !== float32Type) {
    throw new SiftError(
      'unimplemented',
      `linear map: ${tensorName} has element type ${elemType}; only float32 is supported`,
    );
  }
  const lastDim = (graph.valueInfo ?? [])
    .concat(graph.output ?? [], graph.input ?? [])
    .find((v) => v.name === tensorName)
    ?.type?.tensorType?.shape?.dim?.at(-1)?.dimValue;
  if (lastDim !== undefined && lastDim !== null && toNumber(lastDim) !== 0 && toNumber(lastDim) !== rows) {
    throw new SiftError(
      'invalid_argument',
      `linear map: ${tensorName} has ${toNumber(lastDim)} features, T has ${rows} rows`,
    );
  }

  const taken = new Set([
    ...index.producer.keys(),
    ...index.initializers,
    ...index.graphInputs,
    ...index.nodes.map((n) => n.name),
  ]);
  const base = opts.name ?? 'sift_linear_bridge';
  let name = base;
  for (
    let k = 1;
    taken.has(`${name}.weight`) || taken.has(`/${name}/MatMul`) || taken.has(`/${name}/MatMul_output_0`);
    k++
  ) {
    name = `${base}_${k}`;
  }
  const weightName = `${name}.weight`;
  const nodeName = `/${name}/MatMul`;
  const outputName = `/${name}/MatMul_output_0`;

  const nodes = graph.node ?? [];
  for (const r of readers) {
    renameReads(nodes[r]!, (n) => (n === tensorName ? outputName : n));
  }
  const producer = index.producer.get(tensorName);
  const matmul = onnx.NodeProto.create({
    name: nodeName,
    opType: 'MatMul',
    domain: '',
    input: [tensorName, weightName],
    output: [outputName],
  });
  nodes.splice(producer === undefined ? 0 : producer + 1, 0, matmul);
  graph.node = nodes;
  graph.initializer = [
    ...(graph.initializer ?? []),
    onnx.TensorProto.create({
      name: weightName,
      dataType: float32Type,
      dims: [rows, cols],
      rawData: littleEndianFloat32(t),
    }),
  ];
  return { model: copy, weightName, nodeName, outputName };
}
