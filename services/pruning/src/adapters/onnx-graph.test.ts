import { createHash } from 'node:crypto';
import { encodeModel, type NodeSpec } from '@sift/inference';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { BlockBridgeFit, RidgeAccumulator } from '../domain/least-squares.js';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  exposeOutputs,
  findLayerBoundaries,
  findOutputProjection,
  foldLinearMap,
  insertLinearMap,
  type OnnxModel,
  removeBlock,
  removedBlocksMetadataKey,
} from './onnx-graph.js';

const vocab = 6;
const d = 4;
const layers = 4;

/** Deterministic values in [−scale, scale). */
function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

const embedding = values(vocab * d, 1);
const weights = [...Array(layers).keys()].map((l) => values(d * d, 10 + l, 0.5));
const head = values(d * vocab, 99);
const gateTable = values(vocab * d, 50);
const scale = 0.8;

interface ToyOptions {
  /** Name the boundary tensors hidden_state_k and output them all (as byte-gpt does). */
  hiddenOutputs?: boolean;
  /**
   * Make layers read a token-dependent gate built outside the layers, first in each layer, and a shared
   * Constant: x^(l+1) = x^l + scale · (g ⊙ x^l) W_l. Without it, x^(l+1) = x^l + x^l W_l.
   */
  gated?: boolean;
}

function streamName(k: number, opts: ToyOptions): string {
  if (opts.hiddenOutputs) return `hidden_state_${k}`;
  return k === 0 ? '/embed/Gather_output_0' : `/blocks.${k - 1}/Add_output_0`;
}

/**
 * A 4-layer toy decoder: embedding Gather, layers `/blocks.<l>/...` that are linear maps of the stream
 * (plus, when gated, an elementwise gate), and a MatMul head to logits. Also holds a dead node and an
 * unread initializer, which any rewrite sweeps.
 */
function toyDecoder(opts: ToyOptions = {}): Uint8Array {
  const nodes: NodeSpec[] = [
    { op: 'Gather', name: '/embed/Gather', inputs: ['embed.weight', 'input_ids'], outputs: [streamName(0, opts)] },
  ];
  if (opts.gated) {
    nodes.push({
      op: 'Gather',
      name: '/gate/Gather',
      inputs: ['gate.weight', 'input_ids'],
      outputs: ['/gate/Gather_output_0'],
    });
    nodes.push({
      op: 'Constant',
      name: 'Constant_7',
      inputs: [],
      outputs: ['onnx::Mul_7'],
      attributes: { value_float: { float: scale } },
    });
  }
  for (let l = 0; l < layers; l++) {
    const x = streamName(l, opts);
    let input = x;
    if (opts.gated) {
      nodes.push({
        op: 'Mul',
        name: `/blocks.${l}/gate/Mul`,
        inputs: ['/gate/Gather_output_0', x],
        outputs: [`/blocks.${l}/gate/Mul_output_0`],
      });
      input = `/blocks.${l}/gate/Mul_output_0`;
    }
    nodes.push({
      op: 'MatMul',
      name: `/blocks.${l}/MatMul`,
      inputs: [input, `blocks.${l}.weight`],
      outputs: [`/blocks.${l}/MatMul_output_0`],
    });
    let branch = `/blocks.${l}/MatMul_output_0`;
    if (opts.gated) {
      nodes.push({
        op: 'Mul',
        name: `/blocks.${l}/Mul`,
        inputs: [branch, 'onnx::Mul_7'],
        outputs: [`/blocks.${l}/Mul_output_0`],
      });
      branch = `/blocks.${l}/Mul_output_0`;
    }
    nodes.push({ op: 'Add', name: `/blocks.${l}/Add`, inputs: [x, branch], outputs: [streamName(l + 1, opts)] });
  }
  nodes.push({
    op: 'MatMul',
    name: '/head/MatMul',
    inputs: [streamName(layers, opts), 'head.weight'],
    outputs: ['logits'],
  });
  nodes.push({ op: 'Relu', name: '/debug/Relu', inputs: [streamName(2, opts)], outputs: ['/debug/Relu_output_0'] });
  const hidden = opts.hiddenOutputs
    ? [...Array(layers + 1).keys()].map((k) => ({
        name: `hidden_state_${k}`,
        dtype: 'float32' as const,
        shape: ['batch', 'sequence', d],
      }))
    : [];
  return encodeModel({
    graphName: 'toy-decoder',
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 'sequence'] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'sequence', vocab] }, ...hidden],
    initializers: [
      { name: 'embed.weight', dtype: 'float32', dims: [vocab, d], data: embedding },
      ...(opts.gated ? [{ name: 'gate.weight', dtype: 'float32' as const, dims: [vocab, d], data: gateTable }] : []),
      ...weights.map((w, l) => ({ name: `blocks.${l}.weight`, dtype: 'float32' as const, dims: [d, d], data: w })),
      { name: 'head.weight', dtype: 'float32', dims: [d, vocab], data: head },
      { name: 'unused.weight', dtype: 'float32', dims: [2], data: Float32Array.from([1, 2]) },
    ],
    nodes,
  });
}

/** x W for one row x (length rows of W) and row-major W with `cols` columns. */
function rowTimes(x: Float32Array, w: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < x.length; i++) out[j]! += x[i]! * w[i * cols + j]!;
  return out;
}

/**
 * The toy decoder computed by hand for one token, through the given layers in order, with an optional map
 * T applied to the stream before layer `mapBefore`: returns the logits and the stream after each step.
 */
function reference(
  token: number,
  layerOrder: readonly number[],
  opts: ToyOptions = {},
  map?: { before: number; t: Float32Array },
): { logits: Float32Array; streams: Float32Array[] } {
  let x: Float32Array = embedding.slice(token * d, token * d + d);
  const streams = [x];
  for (const [i, l] of layerOrder.entries()) {
    if (map && i === map.before) x = rowTimes(x, map.t, d);
    let input = x;
    if (opts.gated) input = input.map((v, j) => v * gateTable[token * d + j]!);
    const branch = rowTimes(input, weights[l]!, d).map((v) => (opts.gated ? v * scale : v));
    x = x.map((v, j) => v + branch[j]!);
    streams.push(x);
  }
  return { logits: rowTimes(x, head, vocab), streams };
}

const tokens = [3, 0, 5, 1, 2, 4];

async function run(model: OnnxModel | Uint8Array, outputs: string[], shape: [number, number] = [2, 3]) {
  const bytes = model instanceof Uint8Array ? model : encodeOnnxModel(model);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const ids = new ort.Tensor('int64', BigInt64Array.from(tokens.slice(0, shape[0] * shape[1]).map(BigInt)), shape);
    // All outputs, picked by name: onnxruntime-node 1.23.2 returns a requested subset under the names of the
    // session's first outputs instead of the requested ones.
    const result = await session.run({ input_ids: ids });
    return Object.fromEntries(outputs.map((o) => [o, result[o]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Expects `actual` (rows × width, one row per token) to equal `expected(token)` for every token. */
function expectRows(actual: Float32Array, width: number, expected: (token: number) => Float32Array, shape = [2, 3]) {
  const n = shape[0]! * shape[1]!;
  expect(actual.length).toBe(n * width);
  for (let r = 0; r < n; r++) {
    const want = expected(tokens[r]!);
    for (let j = 0; j < width; j++) expect(actual[r * width + j]).toBeCloseTo(want[j]!, 4);
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const nodeNames = (m: OnnxModel) => (m.graph?.node ?? []).map((n) => n.name);
const initializerNames = (m: OnnxModel) => (m.graph?.initializer ?? []).map((t) => t.name);

describe('findLayerBoundaries', () => {
  it('finds the stream entering every layer and leaving the last one in a graph without hidden-state outputs', () => {
    const boundaries = findLayerBoundaries(decodeOnnxModel(toyDecoder()));
    expect(boundaries.layerCount).toBe(4);
    expect(boundaries.tensors).toEqual([
      '/embed/Gather_output_0',
      '/blocks.0/Add_output_0',
      '/blocks.1/Add_output_0',
      '/blocks.2/Add_output_0',
      '/blocks.3/Add_output_0',
    ]);
  });

  it('is not misled by a gate built outside the layers that each layer reads first, nor by a shared Constant', () => {
    const boundaries = findLayerBoundaries(decodeOnnxModel(toyDecoder({ gated: true })));
    expect(boundaries.tensors[0]).toBe('/embed/Gather_output_0');
    expect(boundaries.tensors[1]).toBe('/blocks.0/Add_output_0');
    expect(boundaries.tensors).not.toContain('/gate/Gather_output_0');
    expect(boundaries.tensors).not.toContain('onnx::Mul_7');
  });

  it('finds the hidden-state tensors themselves when the model outputs them', () => {
    const boundaries = findLayerBoundaries(decodeOnnxModel(toyDecoder({ hiddenOutputs: true })));
    expect(boundaries.tensors).toEqual([
      'hidden_state_0',
      'hidden_state_1',
      'hidden_state_2',
      'hidden_state_3',
      'hidden_state_4',
    ]);
  });

  it('says what it could not find', () => {
    const model = decodeOnnxModel(toyDecoder());
    expect(() => findLayerBoundaries(model, /\/decoder\.layer\.(\d+)\//)).toThrowError(
      expect.objectContaining({ kind: 'invalid_argument', message: expect.stringMatching(/no node name .* matches/) }),
    );
    for (const node of model.graph?.node ?? []) node.name = node.name?.replace('/blocks.1/', '/other/');
    expect(() => findLayerBoundaries(model)).toThrow(/no node of layer 1/);
  });
});

describe('exposeOutputs', () => {
  it('adds the boundary tensors as float outputs of unknown shape that ONNX Runtime fills', async () => {
    const source = toyDecoder({ gated: true });
    const digest = sha(source);
    const model = decodeOnnxModel(source);
    const boundaries = findLayerBoundaries(model);
    const exposed = exposeOutputs(model, boundaries.tensors);
    expect(exposed.graph?.output?.map((o) => o.name)).toEqual(['logits', ...boundaries.tensors]);
    expect(exposed.graph?.output?.[1]?.type?.tensorType).toMatchObject({ elemType: 1 });
    expect(model.graph?.output?.length).toBe(1); // the input model is untouched
    const out = await run(exposed, [...boundaries.tensors]);
    boundaries.tensors.forEach((name, k) => {
      expectRows(out[name]!, d, (t) => reference(t, [0, 1, 2, 3], { gated: true }).streams[k]!);
    });
    expect(sha(source)).toBe(digest);
  });

  it('rejects a tensor that is not in the graph', () => {
    expect(() => exposeOutputs(decodeOnnxModel(toyDecoder()), ['nope'])).toThrow(/cannot expose nope/);
  });
});

describe('removeBlock', () => {
  it('computes the composition of the remaining layers, for any batch and sequence length', async () => {
    for (const gated of [false, true]) {
      const source = toyDecoder({ gated });
      const digest = sha(source);
      const model = decodeOnnxModel(source);
      const pruned = removeBlock(model, 1, 2, findLayerBoundaries(model));
      expect(pruned.boundaries.layerCount).toBe(2);
      for (const shape of [
        [2, 3],
        [1, 5],
      ] as [number, number][]) {
        const out = await run(pruned.model, ['logits'], shape);
        expectRows(out.logits!, vocab, (t) => reference(t, [0, 3], { gated }).logits, shape);
      }
      expect(sha(source)).toBe(digest);
      expect(pruned.model.graph?.input?.[0]?.type?.tensorType?.shape?.dim?.map((x) => x.dimParam)).toEqual([
        'batch',
        'sequence',
      ]);
    }
  });

  it('sweeps the removed layers, dead nodes and unread initializers, and renumbers the later layers', () => {
    const model = decodeOnnxModel(toyDecoder());
    const pruned = removeBlock(model, 1, 2, findLayerBoundaries(model));
    expect(nodeNames(pruned.model)).toEqual([
      '/embed/Gather',
      '/blocks.0/MatMul',
      '/blocks.0/Add',
      '/blocks.1/MatMul',
      '/blocks.1/Add',
      '/head/MatMul',
    ]);
    expect(initializerNames(pruned.model)).toEqual([
      'embed.weight',
      'blocks.0.weight',
      'blocks.3.weight',
      'head.weight',
    ]);
    expect(pruned.removedInitializers).toEqual(['blocks.1.weight', 'blocks.2.weight', 'unused.weight']);
    expect(pruned.removedNodeCount).toBe(5); // two layers of two nodes and the dead Relu
    // The renumbered layer 1 reads x^1, and reading the pruned graph again finds the same boundaries.
    const layer1 = pruned.model.graph?.node?.find((n) => n.name === '/blocks.1/MatMul');
    expect(layer1?.input).toEqual(['/blocks.0/Add_output_0', 'blocks.3.weight']);
    expect(findLayerBoundaries(pruned.model).tensors).toEqual(pruned.boundaries.tensors);
    expect(pruned.bridgedTensor).toBe('/blocks.0/Add_output_0');
    expect(
      JSON.parse(pruned.model.metadataProps?.find((p) => p.key === removedBlocksMetadataKey)?.value ?? ''),
    ).toEqual([{ startLayer: 1, blockSize: 2, layerCountBefore: 4 }]);
  });

  it('drops the hidden states of removed boundaries and renumbers the later ones', async () => {
    const model = decodeOnnxModel(toyDecoder({ hiddenOutputs: true }));
    const pruned = removeBlock(model, 1, 2, findLayerBoundaries(model));
    expect(pruned.droppedOutputs).toEqual(['hidden_state_2', 'hidden_state_3']);
    expect(pruned.renamedOutputs).toEqual({ hidden_state_4: 'hidden_state_2' });
    expect(pruned.model.graph?.output?.map((o) => o.name)).toEqual([
      'logits',
      'hidden_state_0',
      'hidden_state_1',
      'hidden_state_2',
    ]);
    expect(pruned.boundaries.tensors).toEqual(['hidden_state_0', 'hidden_state_1', 'hidden_state_2']);
    const out = await run(pruned.model, ['logits', 'hidden_state_1', 'hidden_state_2']);
    expectRows(out.hidden_state_1!, d, (t) => reference(t, [0, 3]).streams[1]!);
    expectRows(out.hidden_state_2!, d, (t) => reference(t, [0, 3]).streams[2]!);
    expectRows(out.logits!, vocab, (t) => reference(t, [0, 3]).logits);
    // Pruning the pruned model again works on the renumbered names.
    const again = removeBlock(pruned.model, 0, 1, pruned.boundaries);
    expect(again.model.graph?.output?.map((o) => o.name)).toEqual(['logits', 'hidden_state_0', 'hidden_state_1']);
    const out2 = await run(again.model, ['logits']);
    expectRows(out2.logits!, vocab, (t) => reference(t, [3]).logits);
  });

  it('keeps another output of the block output (now x^start) and drops outputs made inside removed layers', async () => {
    const exposed = exposeOutputs(decodeOnnxModel(toyDecoder()), [
      '/blocks.2/Add_output_0',
      '/blocks.1/MatMul_output_0',
    ]);
    const pruned = removeBlock(exposed, 1, 2, findLayerBoundaries(exposed));
    expect(pruned.droppedOutputs).toEqual(['/blocks.1/MatMul_output_0']);
    expect(pruned.model.graph?.output?.map((o) => o.name)).toEqual(['logits', '/blocks.2/Add_output_0']);
    const out = await run(pruned.model, ['/blocks.2/Add_output_0']);
    expectRows(out['/blocks.2/Add_output_0']!, d, (t) => reference(t, [0]).streams[1]!);
  });

  it('keeps a constant that an exporter named inside a removed layer and shared with the layers that stay', async () => {
    // torch.onnx merges equal constants: the one Constant, named in layer 0, feeds every layer.
    const model = decodeOnnxModel(toyDecoder({ gated: true }));
    const shared = model.graph?.node?.find((n) => n.name === 'Constant_7');
    shared!.name = '/blocks.0/Constant_7';
    const pruned = removeBlock(model, 0, 2, findLayerBoundaries(model));
    // It stays, out of the layer numbering: layer 0 is now the old layer 2, whose own nodes may bear the
    // same names (ONNX Runtime refuses two nodes of one name).
    const names = pruned.model.graph?.node?.map((n) => n.name) ?? [];
    expect(names).toContain('/blocks.removed-0/Constant_7');
    expect(new Set(names).size).toBe(names.length);
    const out = await run(pruned.model, ['logits']);
    expectRows(out.logits!, vocab, (t) => reference(t, [2, 3], { gated: true }).logits);
  });

  it('refuses a cut that a later layer bypasses by reading inside the block', () => {
    const model = decodeOnnxModel(toyDecoder());
    const add3 = model.graph?.node?.find((n) => n.name === '/blocks.3/Add');
    add3!.input = ['/blocks.2/Add_output_0', '/blocks.1/MatMul_output_0'];
    expect(() => removeBlock(model, 1, 2, findLayerBoundaries(model))).toThrow(
      /node \/blocks\.1\/MatMul of a removed layer is still needed/,
    );
  });

  it('never removes the final layer unless asked to, and rejects blocks that do not fit', async () => {
    const model = decodeOnnxModel(toyDecoder());
    const boundaries = findLayerBoundaries(model);
    expect(() => removeBlock(model, 2, 2, boundaries)).toThrowError(
      expect.objectContaining({
        kind: 'invalid_argument',
        message: expect.stringMatching(/without removing its final layer/),
      }),
    );
    expect(() => removeBlock(model, 0, 0, boundaries)).toThrow(/block size/);
    expect(() => removeBlock(model, 3, 2, boundaries, { allowFinalLayer: true })).toThrow(/does not fit/);
    const pruned = removeBlock(model, 2, 2, boundaries, { allowFinalLayer: true });
    const out = await run(pruned.model, ['logits']);
    expectRows(out.logits!, vocab, (t) => reference(t, [0, 1]).logits);
  });
});

describe('insertLinearMap', () => {
  it('sends the bridged stream through MatMul(x, T) before the layers after the cut', async () => {
    const model = decodeOnnxModel(toyDecoder({ hiddenOutputs: true }));
    const pruned = removeBlock(model, 1, 2, findLayerBoundaries(model));
    const t = values(d * d, 77);
    const healed = insertLinearMap(pruned.model, pruned.bridgedTensor, t, [d, d]);
    expect(healed.weightName).toBe('sift_linear_bridge.weight');
    expect(healed.nodeName).toBe('/sift_linear_bridge/MatMul');
    const names = nodeNames(healed.model);
    expect(names.indexOf('/sift_linear_bridge/MatMul')).toBe(names.indexOf('/blocks.0/Add') + 1);
    const out = await run(healed.model, ['logits', 'hidden_state_1']);
    expectRows(out.logits!, vocab, (tok) => reference(tok, [0, 3], {}, { before: 1, t }).logits);
    // The hidden-state output still holds what layer 0 wrote, before the map.
    expectRows(out.hidden_state_1!, d, (tok) => reference(tok, [0, 3]).streams[1]!);
    expect(() => insertLinearMap(pruned.model, pruned.bridgedTensor, t, [d, d + 1])).toThrow(/dims/);
    expect(() => insertLinearMap(pruned.model, 'nope', t, [d, d])).toThrow(/no tensor nope/);
  });

  it('heals a cut of linear layers exactly with the least-squares bridge fitted on captured streams', async () => {
    const model = decodeOnnxModel(toyDecoder());
    const boundaries = findLayerBoundaries(model);
    // Capture x^1 and x^3 on calibration tokens: the removed layers 1..2 are linear, so x^3 = x^1 T exactly.
    const calib = await run(exposeOutputs(model, boundaries.tensors), [boundaries.tensors[1]!, boundaries.tensors[3]!]);
    const fit = new BlockBridgeFit(d);
    fit.add(calib[boundaries.tensors[1]!]!, calib[boundaries.tensors[3]!]!);
    const pruned = removeBlock(model, 1, 2, boundaries);
    const healed = insertLinearMap(pruned.model, pruned.bridgedTensor, fit.solve({ alpha: 0 }), [d, d]);
    const out = await run(healed.model, ['logits']);
    expectRows(out.logits!, vocab, (t) => reference(t, [0, 1, 2, 3]).logits);
  });
});

describe('findOutputProjection and foldLinearMap', () => {
  it('finds x = Y + M with M a MatMul by a weight, and says why the embedding output is not one', () => {
    const model = decodeOnnxModel(toyDecoder());
    const boundaries = findLayerBoundaries(model);
    const search = findOutputProjection(model, boundaries.tensors[2]!);
    expect(search).toEqual({
      found: true,
      projection: {
        stream: boundaries.tensors[2],
        residual: boundaries.tensors[1],
        projection: '/blocks.1/MatMul_output_0',
        matmulNode: '/blocks.1/MatMul',
        weight: 'blocks.1.weight',
        bias: undefined,
        inputFeatures: d,
        outputFeatures: d,
      },
    });
    const first = findOutputProjection(model, boundaries.tensors[0]!);
    expect(first.found).toBe(false);
    expect(first.found ? '' : first.reason).toMatch(/not produced by a residual Add \(Gather\)/);
  });

  it('heals a cut of linear layers exactly with T folded into the projection before it, adding no parameters', async () => {
    const model = decodeOnnxModel(toyDecoder());
    const boundaries = findLayerBoundaries(model);
    const pruned = removeBlock(model, 1, 2, boundaries);
    const search = findOutputProjection(pruned.model, pruned.bridgedTensor);
    if (!search.found) throw new Error(search.reason);
    const p = search.projection;
    expect(p.matmulNode).toBe('/blocks.0/MatMul');
    // ReplaceMe's fit: M T ≈ L − Y with M = x^0 W_0, Y = x^0, L = x^3; the removed layers are linear and W_0 is
    // invertible, so the fit is exact and the pruned model computes the full one.
    const calib = await run(exposeOutputs(model, [p.projection, p.residual, boundaries.tensors[3]!]), [
      p.projection,
      p.residual,
      boundaries.tensors[3]!,
    ]);
    const target = calib[boundaries.tensors[3]!]!.map((v, i) => v - calib[p.residual]![i]!);
    const fit = new RidgeAccumulator(d, d);
    fit.add(calib[p.projection]!, target);
    const folded = foldLinearMap(pruned.model, p, fit.solve({ alpha: 0 }));
    const out = await run(folded, ['logits']);
    expectRows(out.logits!, vocab, (t) => reference(t, [0, 1, 2, 3]).logits);
    expect(initializerNames(folded)).toContain('blocks.0.weight.replaceme');
    expect(initializerNames(folded)).not.toContain('blocks.0.weight');
    const count = (m: OnnxModel) =>
      (m.graph?.initializer ?? []).reduce((s, t) => s + (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1), 0);
    expect(count(folded)).toBe(count(pruned.model));
    expect(nodeNames(folded)).toEqual(nodeNames(pruned.model));
    expect(() => foldLinearMap(pruned.model, p, new Float32Array(d * d + 1))).toThrow(/needs 4 × 4/);
  });
});
