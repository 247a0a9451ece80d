import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruningV1 } from '@sift/contracts';
import { byteCodec, ModelStore } from '@sift/inference';
import { repoRoot } from '@sift/launcher';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeOnnxModel, encodeOnnxModel, type OnnxModel } from '../adapters/onnx-graph.js';
import { onnx } from '../adapters/onnx-graph-index.js';
import { compilePattern, loadDecoder, resolveDecoder, sequenceLength } from './decoder-model.js';
import { checkPruningSpec } from './pruning.js';

const root = mkdtempSync(join(tmpdir(), 'sift-pruning-models-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeManifest(name: string, task: string, preprocessing: Record<string, unknown>): void {
  mkdirSync(join(root, name, '1'), { recursive: true });
  writeFileSync(
    join(root, name, '1', 'model.json'),
    JSON.stringify({ name, version: '1', task, inputs: [], outputs: [], preprocessing }),
  );
}

/** What checkPruningSpec reads of an 8-layer byte model with a 256-byte context. */
const byteDecoder = { layerCount: 8, contextLength: 256, codec: byteCodec };

const inline = (texts: string[]) => ({ source: { $case: 'inline' as const, value: { texts } } });

describe('what the pruning service accepts', () => {
  writeManifest('classifier', 'classification', { kind: 'bytes' });
  writeManifest('wordpiece-lm', 'language-model', { kind: 'wordpiece' });
  writeManifest('digits', 'image-classifier', { kind: 'bytes' });
  const store = new ModelStore(root);

  it('answers not_found for an unknown model and failed_precondition for a model that is not a byte decoder', async () => {
    await expect(resolveDecoder(store, { name: 'nope', version: '' })).rejects.toMatchObject({ kind: 'not_found' });
    await expect(resolveDecoder(store, { name: '', version: '' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: 'spec.model.name is required',
    });
    await expect(resolveDecoder(store, { name: 'classifier', version: '' })).rejects.toMatchObject({
      kind: 'failed_precondition',
      message:
        'model classifier/1 is a "classification" model; pruning needs a decoder-only language model (task "language-model")',
    });
    await expect(resolveDecoder(store, { name: 'digits', version: '' })).rejects.toMatchObject({
      message: expect.stringContaining('model digits/1 is an "image-classifier" model;'),
    });
    await expect(resolveDecoder(store, { name: 'wordpiece-lm', version: '' })).rejects.toMatchObject({
      kind: 'failed_precondition',
    });
  });

  it('refuses a byte model whose vocabulary or graph interface is not the one it scores', async () => {
    writeManifest('byt5ish', 'language-model', { kind: 'bytes', vocabSize: 259 });
    await expect(resolveDecoder(store, { name: 'byt5ish', version: '' })).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('has a vocabulary of 259 (preprocessing.vocabSize)'),
    });
    // byte-gpt's own graph, edited: stored under another name with its manifest and a matching sha256.
    const source = join(repoRoot, 'models', 'byte-gpt', '1');
    const variant = async (name: string, edit: (m: OnnxModel) => void) => {
      const model = decodeOnnxModel(new Uint8Array(readFileSync(join(source, 'model.onnx'))));
      edit(model);
      const bytes = encodeOnnxModel(model);
      const manifest = JSON.parse(readFileSync(join(source, 'model.json'), 'utf8'));
      Object.assign(manifest, { name, sha256: { 'model.onnx': createHash('sha256').update(bytes).digest('hex') } });
      mkdirSync(join(root, name, '1'), { recursive: true });
      writeFileSync(join(root, name, '1', 'model.onnx'), bytes);
      writeFileSync(join(root, name, '1', 'model.json'), JSON.stringify(manifest));
      return loadDecoder(await resolveDecoder(store, { name, version: '' }));
    };
    await expect(
      variant('renamed-input', (m) => {
        const input = m.graph?.input?.[0];
        if (input) input.name = 'ids';
      }),
    ).rejects.toThrow(/graph inputs are \[ids\]; the service feeds "input_ids"/);
    await expect(
      variant('wide-logits', (m) => {
        const last = m.graph?.output?.find((o) => o.name === 'logits')?.type?.tensorType?.shape?.dim?.at(-1);
        if (last) last.dimValue = 259;
      }),
    ).rejects.toThrow(/logits are 259 wide/);
    await expect(
      variant('int32-ids', (m) => {
        const type = m.graph?.input?.[0]?.type?.tensorType;
        if (type) type.elemType = 6;
      }),
    ).rejects.toThrow(/graph input "input_ids" has element type int32; the service feeds int64/);
    await expect(
      variant('half-logits', (m) => {
        const type = m.graph?.output?.find((o) => o.name === 'logits')?.type?.tensorType;
        if (type) type.elemType = 10;
      }),
    ).rejects.toThrow(/logits are float16; the service reads float32 logits and activations/);
    // A key/value cache is fed empty: it must be float32 with one symbolic past axis; a merged decoder (its
    // layers inside If subgraphs) is refused by name.
    const addInput = (name: string, elemType: number, dims: (number | string)[]) => (m: OnnxModel) => {
      const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
      m.graph?.input?.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } }));
    };
    await expect(variant('merged', addInput('use_cache_branch', 9, [1]))).rejects.toThrow(
      /takes "use_cache_branch", so it is a merged decoder .* export the decoder without merging/,
    );
    await expect(
      variant('half-cache', addInput('past_key_values.0.key', 10, ['batch', 5, 'past', 32])),
    ).rejects.toThrow(
      /graph input "past_key_values.0.key" has element type float16; the service feeds a float32 cache/,
    );
    await expect(variant('fixed-cache', addInput('past_key_values.0.key', 1, ['batch', 5, 16, 32]))).rejects.toThrow(
      /cache input "past_key_values.0.key" has shape \[batch, 5, 16, 32\]; .*one symbolic past-length axis/,
    );
    // Weights in a side file, as exporters write models over 2 GiB: the file must be there, whole.
    await expect(
      variant('external-weights', (m) => {
        const weight = m.graph?.initializer?.[3];
        if (weight) {
          weight.rawData = new Uint8Array(0);
          weight.dataLocation = 1;
          weight.externalData = [{ key: 'location', value: 'model.onnx.data' }];
        }
      }),
    ).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringMatching(
        /external data file model\.onnx\.data \(of initializer \S+\) is missing beside the model/,
      ),
    });
    await expect(variant('intact', () => {})).resolves.toMatchObject({ layerCount: 8 });
  });

  it('defaults the sequence length to the context and rejects one longer than the context', () => {
    expect(sequenceLength(0, 256, 's')).toBe(256);
    expect(sequenceLength(0, 4096, 's')).toBe(512);
    expect(sequenceLength(128, 256, 's')).toBe(128);
    expect(() => sequenceLength(300, 256, 's')).toThrow(/exceeds the model's context of 256/);
  });

  it('needs a capture group in a residual-stream pattern', () => {
    expect(() => compilePattern('^/layers\\.\\d+/x$')).toThrow(/capture group/);
    expect(() => compilePattern('([')).toThrow(/not a regular expression/);
    expect(compilePattern('^/layers\\.(\\d+)/x$').exec('/layers.3/x')?.[1]).toBe('3');
  });

  it('rejects a block as large as the model, or one that would remove the final layer', async () => {
    const heldOut = 'Held-out text that the pruned model is measured on, long enough to mean something.';
    const evaluation = { texts: inline([heldOut]), sequenceLength: 0, latencyRuns: 0 };
    const spec = {
      model: { name: 'm', version: '' },
      blockSize: 1,
      startLayer: 0,
      analysisJobId: '',
      calibration: undefined,
      healing: undefined,
      evaluation,
      outputName: '',
    };
    await expect(checkPruningSpec(spec, byteDecoder)).resolves.toBeUndefined();
    await expect(checkPruningSpec({ ...spec, blockSize: 8 }, byteDecoder)).rejects.toThrow(
      /spec\.block_size 8 must be below the layer count 8/,
    );
    await expect(checkPruningSpec({ ...spec, blockSize: 2, startLayer: 6 }, byteDecoder)).rejects.toThrow(
      /spec\.start_layer 6 with spec\.block_size 2: .* final layer/,
    );
    await expect(checkPruningSpec({ ...spec, blockSize: 0 }, byteDecoder)).rejects.toThrow(
      'spec.block_size must be at least 1',
    );
    // Bits per byte over a handful of bytes would be a number about nothing.
    await expect(
      checkPruningSpec({ ...spec, evaluation: { ...evaluation, texts: inline(['x', 'held out']) } }, byteDecoder),
    ).rejects.toThrow('spec.evaluation.texts: the evaluation texts give 7 bytes to predict; at least 64 are needed');
    await expect(
      checkPruningSpec({ ...spec, evaluation: { ...evaluation, texts: inline([heldOut, ' \n\t']) } }, byteDecoder),
    ).rejects.toThrow('spec.evaluation.texts.inline.texts[1] is empty or only whitespace');
    const fold = {
      method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES,
      placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
      ridgeAlpha: 0,
      maxTokens: 0,
      foldedInto: '',
      addedParameters: 0,
    };
    const calibration = { texts: inline(['calibrate']), batchSize: 0, sequenceLength: 0, residualStreamPattern: '' };
    await expect(
      checkPruningSpec(
        { ...spec, startLayer: undefined, calibration: { ...calibration, batchSize: 1000 } },
        byteDecoder,
      ),
    ).rejects.toThrow(/spec\.calibration\.batch_size 1000 exceeds 256/);
    await expect(checkPruningSpec({ ...spec, calibration, healing: fold }, byteDecoder)).rejects.toThrow(
      /spec\.healing\.placement FOLD needs a layer before the cut/,
    );
    await expect(
      checkPruningSpec({ ...spec, calibration, healing: fold, startLayer: 2 }, byteDecoder),
    ).resolves.toBeUndefined();
    // Without a start layer or analysis, calibration texts are needed to choose the block.
    await expect(checkPruningSpec({ ...spec, startLayer: undefined }, byteDecoder)).rejects.toThrow(
      /spec\.calibration\.texts/,
    );
    await expect(checkPruningSpec({ ...spec, evaluation: undefined }, byteDecoder)).rejects.toThrow(
      /spec\.evaluation\.texts/,
    );
  });
});
