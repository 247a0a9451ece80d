import { fileURLToPath } from 'node:url';
import { ModelStore } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, removeBlock } from '../src/adapters/onnx-graph.js';
import { loadDecoder, residualStreamTensors, resolveDecoder } from '../src/pipeline/decoder-model.js';
import { validateRuns } from '../src/pipeline/evaluation.js';

const models = fileURLToPath(new URL('../../../models', import.meta.url));
const runtime = { threads: 2, provider: 'cpu' as const, logger: createLogger('tokenized-decoder-test', 'warn') };

describe('a decoder with a byte-level BPE tokenizer and no hidden-state outputs (bpe-gpt)', () => {
  it('is read through its tokenizer, its layers found by node name, and every single-layer cut runs', async () => {
    const decoder = await loadDecoder(await resolveDecoder(new ModelStore(models), { name: 'bpe-gpt', version: '' }));
    expect(decoder).toMatchObject({ layerCount: 6, contextLength: 128 });
    expect(decoder.codec).toMatchObject({ kind: 'tokenizer', vocabSize: 4096 });
    const streams = residualStreamTensors(decoder, '');
    expect(streams.source).toBe('graph analysis of layer boundaries');
    expect(streams.tensors).toHaveLength(7);
    expect(streams.tensors.at(-1)).toBe('/model/h.5/Add_1_output_0');
    // Layer 0 computes the attention-mask Cast that torch shares with every later layer: that node stays
    // when layer 0 goes, and must not clash with the renumbered layer's own nodes.
    for (let start = 0; start < 5; start++) {
      const pruned = removeBlock(decoder.graph, start, 1, decoder.boundaries);
      await expect(validateRuns(encodeOnnxModel(pruned.model), runtime, decoder.codec)).resolves.toBeUndefined();
    }
  });
});
