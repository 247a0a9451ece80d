import { fileURLToPath } from 'node:url';
import { decoderFeeds, ModelStore } from '@sift/inference';
import { createLogger } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, findOutputProjection, removeBlock } from '../src/adapters/onnx-graph.js';
import {
  type DecoderModel,
  loadDecoder,
  residualStreamTensors,
  resolveDecoder,
} from '../src/pipeline/decoder-model.js';
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

describe('a decoder exported with a key/value cache (bpe-gpt-with-past, Hugging Face text-generation-with-past)', () => {
  it('is fed an empty cache, and a cut renumbers the cache so that cached decoding still works', async () => {
    const store = new ModelStore(models);
    const decoder = await loadDecoder(await resolveDecoder(store, { name: 'bpe-gpt-with-past', version: '' }));
    const plain = await loadDecoder(await resolveDecoder(store, { name: 'bpe-gpt', version: '' }));
    expect(decoder).toMatchObject({ layerCount: 6, contextLength: 128 });
    // The cache inputs (graph inputs read inside each layer) are not mistaken for the residual stream.
    expect(residualStreamTensors(decoder, '').tensors.map(role)).toEqual(
      residualStreamTensors(plain, '').tensors.map(role),
    );
    const ids = decoder.codec.encode('The quick brown fox jumps over the lazy dog.').ids;
    for (let start = 0; start < 5; start++) {
      const full = await checkCachedCut(decoder, start, ids);
      // With an empty cache the cut model computes what the same cut of the cache-free export does.
      const plainCut = await ort.InferenceSession.create(
        encodeOnnxModel(removeBlock(plain.graph, start, 1, plain.boundaries).model),
      );
      try {
        const reference = await plainCut.run(decoderFeeds(plainCut, [ids], 0));
        expect(maxAbsDiff(full, reference.logits!)).toBeLessThan(1e-4);
      } finally {
        await plainCut.release();
      }
    }
  });
});

describe('a decoder with the Llama layout (llama-mini, exported like Optimum exports a Llama)', () => {
  it('has its layers found past RMSNorm, shared rotary tables and a shared mask, and each cut decodes with its cache', async () => {
    const decoder = await loadDecoder(
      await resolveDecoder(new ModelStore(models), { name: 'llama-mini', version: '' }),
    );
    expect(decoder).toMatchObject({ layerCount: 4, contextLength: 128 });
    // The stream: the token embedding, then each layer's second residual Add; never the rotary cos/sin or the
    // mask, which every layer also reads from outside.
    expect(residualStreamTensors(decoder, '').tensors.map(role)).toEqual([
      '/embed_tokens/Gather_output_#',
      ...Array(4).fill('/layers.#/Add_#_output_#'),
    ]);
    const ids = decoder.codec.encode('The quick brown fox jumps over the lazy dog.').ids;
    // Cutting layer 0 also cuts the cache the mask reads its past length from: the mask reads the next one's.
    for (let start = 0; start < 3; start++) await checkCachedCut(decoder, start, ids);
    // Healing folds into the MLP's down projection of the layer before the cut, as ReplaceMe does.
    const cut = removeBlock(decoder.graph, 1, 1, decoder.boundaries);
    const search = findOutputProjection(cut.model, cut.bridgedTensor);
    expect(search.found && search.projection.matmulNode).toMatch(/^\/model\/layers\.0\/mlp\/down_proj\/MatMul$/);
  });
});

/**
 * Cuts layer `start` out of a decoder with a cache and checks the result: the cache interface has one layer
 * fewer (renumbered, the removed layer's inputs and outputs gone), the graph runs, and each layer reads its
 * own cache: the last token fed with the cache of the others gives the full run's last logits (a cache fed
 * to the wrong layer would not). Returns the full run's logits.
 */
async function checkCachedCut(decoder: DecoderModel, start: number, ids: Int32Array): Promise<ort.Tensor> {
  const layers = decoder.layerCount - 1;
  const pruned = removeBlock(decoder.graph, start, 1, decoder.boundaries);
  const names = (list: { name?: string | null }[] | null | undefined) => (list ?? []).map((v) => v.name ?? '');
  expect(names(pruned.model.graph?.input).filter((n) => n.startsWith('past_'))).toEqual(
    cacheNames('past_key_values', layers),
  );
  expect(names(pruned.model.graph?.output)).toEqual(['logits', ...cacheNames('present', layers)]);
  expect(pruned.droppedInputs).toEqual([`past_key_values.${start}.key`, `past_key_values.${start}.value`]);
  const bytes = encodeOnnxModel(pruned.model);
  await expect(validateRuns(bytes, runtime, decoder.codec)).resolves.toBeUndefined();
  const session = await ort.InferenceSession.create(bytes);
  try {
    const full = await session.run(decoderFeeds(session, [ids], 0));
    const prefix = await session.run(decoderFeeds(session, [ids.subarray(0, -1)], 0));
    const step = decoderFeeds(session, [ids.subarray(-1)], 0);
    step.attention_mask = new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    step.position_ids = new ort.Tensor('int64', BigInt64Array.of(BigInt(ids.length - 1)), [1, 1]);
    for (const [past, present] of zip(cacheNames('past_key_values', layers), cacheNames('present', layers))) {
      step[past] = prefix[present]!;
    }
    const last = await session.run(step);
    const vocab = decoder.codec.vocabSize;
    const fullLast = (full.logits!.data as Float32Array).subarray((ids.length - 1) * vocab);
    expect(maxAbsDiff(last.logits!, new ort.Tensor('float32', fullLast, [1, 1, vocab]))).toBeLessThan(1e-4);
    return full.logits!;
  } finally {
    await session.release();
  }
}

/** A tensor name without its exporter's wrapper scope (`/model`) and with layer numbers and counters masked. */
const role = (name: string) => name.replace(/^\/model\//, '/').replace(/\d+/g, '#');

const cacheNames = (prefix: string, layers: number) =>
  Array.from({ length: layers }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();

const zip = <A, B>(a: readonly A[], b: readonly B[]): [A, B][] => a.map((x, i) => [x, b[i]!]);

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  expect(a.dims).toEqual(b.dims);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs((x[i] as number) - (y[i] as number)));
  return max;
}
