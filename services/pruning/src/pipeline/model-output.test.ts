import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelStore } from '@sift/inference';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx } from '../adapters/onnx-graph-index.js';
import { storeModelVersion } from './model-output.js';

const root = mkdtempSync(join(tmpdir(), 'sift-pruning-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('storeModelVersion', () => {
  it('writes the next version beside the source, leaves the source alone and records provenance', async () => {
    const srcDir = join(root, 'lm', '9');
    mkdirSync(srcDir, { recursive: true });
    const sourceManifest = {
      name: 'lm',
      version: '9',
      task: 'language-model',
      description: 'a decoder',
      inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['b', 's'] }],
      outputs: [
        { name: 'logits', dtype: 'float32', shape: ['b', 's', 256] },
        { name: 'hidden_state_4', dtype: 'float32', shape: ['b', 's', 8] },
      ],
      languageModel: {
        layers: 4,
        parameters: 4000,
        hiddenStates: 'hidden_state_i enters block i; hidden_state_4 leaves block 3',
      },
    };
    writeFileSync(join(srcDir, 'model.json'), JSON.stringify(sourceManifest));
    writeFileSync(join(srcDir, 'model.onnx'), 'source');
    const source = await new ModelStore(root).resolve('lm', '9');
    const provenance = {
      jobId: 'job-1',
      source: { name: 'lm', version: '9', sha256: 'x' },
      removedBlock: { startLayer: 1, blockSize: 1, distance: 0.1 },
      analysisJobId: '',
      healing: { method: 'none' },
      calibrationSha256: '',
    };
    const model = onnx.ModelProto.create({ graph: { input: [{ name: 'input_ids' }], output: [{ name: 'logits' }] } });
    const graph = { bytes: new Uint8Array([1, 2, 3]), model };
    const size = { layers: 3, parameters: 3000 };
    const first = await storeModelVersion(root, 'lm', source, graph, size, provenance, {});
    const another = { ...provenance, jobId: 'job-2' };
    const second = await storeModelVersion(root, 'lm', source, graph, size, another, {});
    expect([first.version, second.version]).toEqual(['10', '11']);
    // job-1 redelivered after its worker died past the store: its version is found, not duplicated.
    const again = await storeModelVersion(root, 'lm', source, graph, size, provenance, {});
    expect(again.version).toBe('10');
    const manifest = JSON.parse(readFileSync(join(first.dir, 'model.json'), 'utf8'));
    expect(manifest.outputs.map((o: { name: string }) => o.name)).toEqual(['logits']);
    expect(manifest.languageModel).toMatchObject({ layers: 3, parameters: 3000 });
    expect(manifest.languageModel.hiddenStates).toContain('hidden_state_3 leaves the last one');
    expect(manifest.description).toBe('3-layer pruning of lm/9 (layers 1..1 removed); the source: a decoder');
    expect(manifest.provenance.pruning.removedBlock).toEqual({ startLayer: 1, blockSize: 1, distance: 0.1 });
    expect(readFileSync(join(srcDir, 'model.onnx'), 'utf8')).toBe('source');
    expect(readdirSync(join(root, 'lm')).sort()).toEqual(['10', '11', '9']);
  });
});
