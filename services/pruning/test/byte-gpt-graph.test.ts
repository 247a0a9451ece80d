import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  cloneModel,
  decodeOnnxModel,
  encodeOnnxModel,
  findLayerBoundaries,
  findOutputProjection,
  foldLinearMap,
  insertLinearMap,
  type OnnxModel,
  removeBlock,
} from '../src/adapters/onnx-graph.js';

const modelPath = fileURLToPath(new URL('../../../models/byte-gpt/1/model.onnx', import.meta.url));
const hiddenStates = [...Array(9).keys()].map((k) => `hidden_state_${k}`);

async function runAll(model: OnnxModel, text: string): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(encodeOnnxModel(model), { logSeverityLevel: 3 });
  try {
    const ids = BigInt64Array.from([...Buffer.from(text, 'utf8')].map(BigInt));
    return await session.run({ input_ids: new ort.Tensor('int64', ids, [1, ids.length]) });
  } finally {
    await session.release();
  }
}

// Real graph of the project's byte-level LM (models/recipes/byte_gpt.py), committed with the repository.
describe('layer boundaries of byte-gpt', () => {
  const model = decodeOnnxModel(readFileSync(modelPath));

  it('are its hidden-state outputs, and are found the same once those outputs are gone', () => {
    expect(findLayerBoundaries(model).tensors).toEqual(hiddenStates);
    const logitsOnly = cloneModel(model);
    logitsOnly.graph!.output = logitsOnly.graph!.output!.filter((o) => o.name === 'logits');
    expect(findLayerBoundaries(logitsOnly).tensors).toEqual(hiddenStates);
  });

  it('survive a cut: the pruned model runs, keeps the streams before the cut, and has L − n layers', async () => {
    const boundaries = findLayerBoundaries(model);
    const pruned = removeBlock(model, 3, 2, boundaries);
    expect(findLayerBoundaries(pruned.model).layerCount).toBe(6);
    const text = 'The quick brown fox';
    const [before, after] = [await runAll(model, text), await runAll(pruned.model, text)];
    expect(Object.keys(after)).toEqual(['logits', ...hiddenStates.slice(0, 7)]);
    for (const k of [0, 1, 2, 3]) {
      expect(after[`hidden_state_${k}`]!.data).toEqual(before[`hidden_state_${k}`]!.data);
    }
    expect(after.logits!.dims).toEqual([1, text.length, 256]);
  });

  it('take a map folded into the MLP projection of the layer before a cut, acting on that projection only', async () => {
    const pruned = removeBlock(model, 3, 2, findLayerBoundaries(model));
    const search = findOutputProjection(pruned.model, pruned.bridgedTensor);
    if (!search.found) throw new Error(search.reason);
    expect(search.projection).toMatchObject({
      matmulNode: '/model/blocks.2/mlp/proj/MatMul',
      bias: 'model.blocks.2.mlp.proj.bias',
      inputFeatures: 480,
      outputFeatures: 160,
    });
    expect(findOutputProjection(model, 'hidden_state_0').found).toBe(false);
    // With T = I the folded model is the pruned model; with a general T it computes Y + M T, i.e. differs from
    // inserting x T (which also maps Y) by exactly Y (T − I): check the identity case and that T is used.
    const dim = 160;
    const identity = new Float32Array(dim * dim);
    for (let i = 0; i < dim; i++) identity[i * dim + i] = 1;
    const text = 'The quick brown fox';
    const plain = await runAll(pruned.model, text);
    const same = await runAll(foldLinearMap(pruned.model, search.projection, identity), text);
    const diff = (a: ort.Tensor, b: ort.Tensor) =>
      (a.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - (b.data as Float32Array)[i]!)), 0);
    expect(diff(same.logits!, plain.logits!)).toBeLessThan(1e-4);
    const halved = identity.map((v) => v / 2);
    const folded = await runAll(foldLinearMap(pruned.model, search.projection, halved), text);
    const inserted = await runAll(insertLinearMap(pruned.model, pruned.bridgedTensor, halved, [dim, dim]).model, text);
    expect(diff(folded.logits!, plain.logits!)).toBeGreaterThan(1e-2);
    expect(diff(folded.logits!, inserted.logits!)).toBeGreaterThan(1e-2);
  });
});
