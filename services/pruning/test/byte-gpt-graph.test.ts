import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  cloneModel,
  decodeOnnxModel,
  encodeOnnxModel,
  findLayerBoundaries,
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

// Real graph of the project's byte-level LM (models/recipes/byte_gpt.py); skipped until it is built.
describe.skipIf(!existsSync(modelPath))('layer boundaries of byte-gpt', () => {
  const model = existsSync(modelPath) ? decodeOnnxModel(readFileSync(modelPath)) : undefined;

  it('are its hidden-state outputs, and are found the same once those outputs are gone', () => {
    expect(findLayerBoundaries(model!).tensors).toEqual(hiddenStates);
    const logitsOnly = cloneModel(model!);
    logitsOnly.graph!.output = logitsOnly.graph!.output!.filter((o) => o.name === 'logits');
    expect(findLayerBoundaries(logitsOnly).tensors).toEqual(hiddenStates);
  });

  it('survive a cut: the pruned model runs, keeps the streams before the cut, and has L − n layers', async () => {
    const boundaries = findLayerBoundaries(model!);
    const pruned = removeBlock(model!, 3, 2, boundaries);
    expect(findLayerBoundaries(pruned.model).layerCount).toBe(6);
    const text = 'The quick brown fox';
    const [before, after] = [await runAll(model!, text), await runAll(pruned.model, text)];
    expect(Object.keys(after)).toEqual(['logits', ...hiddenStates.slice(0, 7)]);
    for (const k of [0, 1, 2, 3]) {
      expect(after[`hidden_state_${k}`]!.data).toEqual(before[`hidden_state_${k}`]!.data);
    }
    expect(after.logits!.dims).toEqual([1, text.length, 256]);
  });
});
