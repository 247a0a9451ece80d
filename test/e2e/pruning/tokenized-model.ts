import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonV1, pruningV1 } from '@sift/contracts';
import { repoRoot } from '@sift/launcher';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { readHfTokenizer } from '../../../packages/featurizers/src/index.js';
import { decoderFeeds } from '../../../packages/inference/src/index.js';
import { saveAsExternalData } from '../../../services/pruning/src/adapters/onnx-external-data.js';
import { decodeOnnxModel } from '../../../services/pruning/src/adapters/onnx-graph.js';
import { call, watch } from '../src/pruning-calls.js';
import { calibration, evaluation, type PruningSuite } from '../src/pruning-suite.js';

/**
 * A decoder as most arrive: a byte-level BPE tokenizer.json, inputs input_ids + attention_mask, logits as
 * its only output, layers known only by node names (bpe-gpt, exported like a Hugging Face GPT-2).
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (pruning.test.ts calls them in order).
 */

/** The bpe-gpt pruning's result, which the external-data copy of the same weights must reproduce. */
let bpeGptResult: pruningV1.PruningResult | undefined;

/** A pruning job on `model` that picks the cheapest single layer, removes and heals it; its result. */
async function pruneHealed(suite: PruningSuite, model: string): Promise<pruningV1.PruningResult | undefined> {
  const inline = (texts: string[]) => ({ source: { $case: 'inline' as const, value: { texts } } });
  const { jobId } = await call<pruningV1.SubmitPruningRequest, pruningV1.SubmitPruningResponse>(
    suite.client,
    'submitPruning',
    pruningV1.SubmitPruningRequest.fromPartial({
      spec: {
        model: { name: model, version: '' },
        blockSize: 1,
        // No start layer: the job measures the angular distances on the calibration texts and picks l*.
        calibration: { texts: inline(calibration), sequenceLength: 128 },
        healing: { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES },
        evaluation: { texts: inline(evaluation), latencyRuns: 1 },
      },
    }),
  );
  const statuses = await watch(suite.client, jobId);
  expect(statuses.at(-1)?.state, statuses.at(-1)?.error).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
  const { job } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(suite.client, 'getJob', { jobId });
  return job?.result?.$case === 'pruningResult' ? job.result.value : undefined;
}

/** Analysis, removal of the cheapest block and healing of bpe-gpt in one pruning job, and the stored result. */
export function prunesTokenizedModel(suite: PruningSuite): void {
  it('prunes a tokenizer-based decoder without hidden-state outputs and stores it with its tokenizer', async () => {
    const { modelsDir } = suite;
    const result = await pruneHealed(suite, 'bpe-gpt');
    bpeGptResult = result;
    const before = result?.before?.bitsPerByte ?? Number.NaN;
    const unhealed = result?.afterUnhealed?.bitsPerByte ?? Number.NaN;
    const healed = result?.afterHealed?.bitsPerByte ?? Number.NaN;
    console.log(
      `bpe-gpt: layer ${result?.removedBlock?.startLayer} removed (distance ${result?.removedBlock?.distance?.toFixed(3)}): ` +
        `${before.toFixed(3)} -> ${unhealed.toFixed(3)} bits/byte unhealed, ${healed.toFixed(3)} healed`,
    );
    // Bits per byte of README prose through a 4,096-token vocabulary: a trained model, well below 8.
    expect(before).toBeGreaterThan(0.5);
    expect(before).toBeLessThan(4);
    expect(unhealed).toBeGreaterThan(before);
    expect(healed).toBeLessThan(unhealed);
    expect(result?.before?.layerCount).toBe(6);
    expect(result?.afterHealed?.layerCount).toBe(5);
    expect(result?.removedBlock?.startLayer).toBeLessThan(5); // never the final layer
    expect(result?.prunedModel?.name).toBe('bpe-gpt-pruned');

    // The stored version is usable on its own: its tokenizer travels with it, and the graph runs.
    const dir = join(modelsDir, 'bpe-gpt-pruned', result?.prunedModel?.version ?? '');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(manifest.preprocessing.tokenizer).toBe('tokenizer.json');
    expect(Object.keys(manifest.sha256).sort()).toEqual(['model.onnx', 'tokenizer.json']);
    expect(manifest.languageModel.layers).toBe(5);
    const tokenizer = await readHfTokenizer(dir, 'tokenizer.json');
    const ids = BigInt64Array.from(tokenizer.tokenize('Hello, world'), (id) => BigInt(id));
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    try {
      expect([...session.inputNames].sort()).toEqual(['attention_mask', 'input_ids']);
      const dims = [1, ids.length];
      const out = await session.run({
        input_ids: new ort.Tensor('int64', ids, dims),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims),
      });
      expect(out.logits?.dims).toEqual([1, ids.length, 4096]);
    } finally {
      await session.release();
    }
  });
}

/**
 * Decoders exported with a key/value cache, the interface of a Hugging Face text-generation-with-past export:
 * bpe-gpt's weights (bpe-gpt-with-past) and llama-mini (the Llama layout: RMSNorm, shared rotary tables and
 * mask, grouped-query attention). The job feeds each an empty cache and stores a model whose cache has one
 * layer fewer, which decodes with it.
 */
export function prunesCachedModel(suite: PruningSuite, model: string, layers: number): void {
  it(`prunes ${model}, exported with a key/value cache, and the stored model decodes with its cache`, async () => {
    const result = await pruneHealed(suite, model);
    console.log(
      `${model}: layer ${result?.removedBlock?.startLayer} removed: ${result?.before?.bitsPerByte?.toFixed(3)} -> ` +
        `${result?.afterUnhealed?.bitsPerByte?.toFixed(3)} bits/byte unhealed, ${result?.afterHealed?.bitsPerByte?.toFixed(3)} healed`,
    );
    expect(result?.before?.layerCount).toBe(layers);
    expect(result?.afterHealed?.layerCount).toBe(layers - 1);
    expect(result?.afterHealed?.bitsPerByte).toBeLessThan(result?.afterUnhealed?.bitsPerByte ?? Number.NaN);
    expect(result?.prunedModel?.name).toBe(`${model}-pruned`);
    const dir = join(suite.modelsDir, `${model}-pruned`, result?.prunedModel?.version ?? '');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const cache = (prefix: string) =>
      Array.from({ length: layers - 1 }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();
    const names = (list: { name: string }[]) => list.map((v) => v.name);
    expect(names(manifest.inputs)).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      ...cache('past_key_values'),
    ]);
    expect(names(manifest.outputs)).toEqual(['logits', ...cache('present')]);

    // Greedy decoding with the cache: each step feeds one token and the cache of the ones before.
    const tokenizer = await readHfTokenizer(dir, 'tokenizer.json');
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    try {
      const prompt = tokenizer.tokenize('The meaning of life is');
      let feeds = decoderFeeds(session, [Int32Array.from(prompt)], 0);
      const generated: number[] = [];
      for (let step = 0; step < 4; step++) {
        const out = await session.run(feeds);
        const logits = out.logits!;
        const width = logits.dims[1]!;
        const last = (logits.data as Float32Array).subarray((width - 1) * 4096, width * 4096);
        const next = last.indexOf(Math.max(...last));
        generated.push(next);
        const length = prompt.length + generated.length;
        feeds = {
          input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(next)), [1, 1]),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]),
          position_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(length - 1)), [1, 1]),
          ...Object.fromEntries(cache('past_key_values').map((name, i) => [name, out[cache('present')[i]!]!])),
        };
        expect(out[`present.${layers - 2}.value`]?.dims[2]).toBe(length - 1);
      }
      // The cached steps agree with one uncached run over prompt + generated tokens.
      const all = Int32Array.from([...prompt, ...generated]);
      const full = (await session.run(decoderFeeds(session, [all], 0))).logits!;
      for (let step = 1; step < generated.length; step++) {
        const row = (full.data as Float32Array).subarray(
          (prompt.length + step - 1) * 4096,
          (prompt.length + step) * 4096,
        );
        expect(row.indexOf(Math.max(...row))).toBe(generated[step]);
      }
    } finally {
      await session.release();
    }
  });
}

/**
 * bpe-gpt with its weights in a data file beside the graph (external data, as exporters write models over
 * 2 GiB): the job reads them where they are, reproduces the figures of the single-file model, and stores a
 * pruned model with its own, smaller data file.
 */
export function prunesExternalDataModel(suite: PruningSuite): void {
  it('prunes a decoder whose weights are in external data, and stores it with its own data file', async () => {
    const source = join(repoRoot, 'models', 'bpe-gpt', '1');
    const dir = join(suite.modelsDir, 'bpe-gpt-external', '1');
    const graph = decodeOnnxModel(new Uint8Array(readFileSync(join(source, 'model.onnx'))));
    const { sha256 } = await saveAsExternalData(graph, dir);
    copyFileSync(join(source, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const manifest = JSON.parse(readFileSync(join(source, 'model.json'), 'utf8'));
    const withSums = { ...manifest, name: 'bpe-gpt-external', sha256: { ...manifest.sha256, ...sha256 } };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(withSums));

    const result = await pruneHealed(suite, 'bpe-gpt-external');
    // The same weights, read from the data file: the same block, the same figures.
    expect(bpeGptResult, 'the bpe-gpt pruning test runs first').toBeDefined();
    expect(result?.removedBlock?.startLayer).toBe(bpeGptResult?.removedBlock?.startLayer);
    for (const variant of ['before', 'afterUnhealed', 'afterHealed'] as const) {
      expect(result?.[variant]?.bitsPerByte).toBeCloseTo(bpeGptResult?.[variant]?.bitsPerByte ?? Number.NaN, 5);
      // Sizes count the data file (the graph alone is ~1% of it); tensors are aligned in it, so a little more.
      const singleFile = bpeGptResult?.[variant]?.fileSizeBytes ?? Number.NaN;
      expect(result?.[variant]?.fileSizeBytes).toBeGreaterThanOrEqual(singleFile);
      expect(result?.[variant]?.fileSizeBytes).toBeLessThan(singleFile * 1.05);
    }
    const stored = join(suite.modelsDir, 'bpe-gpt-external-pruned', result?.prunedModel?.version ?? '');
    const storedManifest = JSON.parse(readFileSync(join(stored, 'model.json'), 'utf8'));
    expect(Object.keys(storedManifest.sha256).sort()).toEqual(['model.onnx', 'model.onnx.data', 'tokenizer.json']);
    expect(statSync(join(stored, 'model.onnx.data')).size).toBeLessThan(statSync(join(dir, 'model.onnx.data')).size);
    expect(statSync(join(stored, 'model.onnx')).size).toBeLessThan(300_000); // the weights are not inlined
    // The stored model runs from its own folder, reading its own data file.
    const session = await ort.InferenceSession.create(join(stored, 'model.onnx'));
    try {
      const out = await session.run(decoderFeeds(session, [Int32Array.of(464, 2068, 758)], 0));
      expect(out.logits?.dims).toEqual([1, 3, 4096]);
    } finally {
      await session.release();
    }
  });
}
