import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@sift/launcher';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkExternalData,
  dataFileName,
  externalByteCount,
  inlineTensors,
  saveAsExternalData,
  withGraphFile,
  writeWithExternalData,
} from './onnx-external-data.js';
import { decodeOnnxModel, encodeOnnxModel, findLayerBoundaries, removeBlock } from './onnx-graph.js';

const scratch = mkdtempSync(join(tmpdir(), 'sift-external-data-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const sourceFile = join(repoRoot, 'models', 'bpe-gpt', '1', 'model.onnx');
const source = decodeOnnxModel(new Uint8Array(readFileSync(sourceFile)));
const ids = BigInt64Array.of(464n, 2068n, 758n, 2183n, 1804n);
const feeds = () => ({
  input_ids: new ort.Tensor('int64', ids, [1, ids.length]),
  attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
});

async function logits(session: ort.InferenceSession): Promise<Float32Array> {
  try {
    return (await session.run(feeds())).logits?.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('weights in external data', () => {
  it('writes, reads and runs a graph whose weights are in a data file, as exporters write large models', async () => {
    const dir = join(scratch, 'external');
    const { sha256, bytes } = await saveAsExternalData(source, dir);
    expect(Object.keys(sha256).sort()).toEqual(['model.onnx', dataFileName]);
    const graphBytes = statSync(join(dir, 'model.onnx')).size;
    expect(graphBytes).toBeLessThan(200_000); // the graph without its weights
    expect(bytes).toBe(graphBytes + statSync(join(dir, dataFileName)).size);
    const model = decodeOnnxModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
    const weights = await checkExternalData(model, dir);
    expect(weights).toEqual({ dir, files: [dataFileName] });
    expect(await checkExternalData(source, dir)).toBeUndefined();
    expect(externalByteCount(model)).toBeGreaterThan(8_000_000);

    const expected = await logits(await ort.InferenceSession.create(sourceFile));
    expect(await logits(await ort.InferenceSession.create(join(dir, 'model.onnx')))).toEqual(expected);
    // From bytes ONNX Runtime looks for the data file in the working directory: a scratch folder links it.
    const fromBytes = await withGraphFile(encodeOnnxModel(model), weights!, (path) =>
      ort.InferenceSession.create(path),
    );
    expect(await logits(fromBytes)).toEqual(expected);

    // A tensor read back is the one the single-file graph holds.
    const name = model.graph?.initializer?.find((t) => (t.externalData ?? []).length > 0)?.name ?? '';
    const inlined = inlineTensors(model, [name], weights!).graph?.initializer?.find((t) => t.name === name);
    const original = source.graph?.initializer?.find((t) => t.name === name);
    expect(inlined?.externalData).toEqual([]);
    expect(Buffer.from(inlined?.rawData ?? []).equals(Buffer.from(original?.rawData ?? []))).toBe(true);
  });

  it('stores a cut model with a data file of only the tensors it kept, aligned, computing what the cut computes', async () => {
    const dir = join(scratch, 'to-cut');
    await saveAsExternalData(source, dir);
    const model = decodeOnnxModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
    const weights = (await checkExternalData(model, dir))!;
    const cut = removeBlock(model, 2, 1, findLayerBoundaries(model)).model;
    const out = join(scratch, 'stored');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    const { bytes } = await writeWithExternalData(cut, weights, out);
    const stored = decodeOnnxModel(new Uint8Array(readFileSync(join(out, 'model.onnx'))));
    for (const t of stored.graph?.initializer ?? []) {
      const offset = Number(t.externalData?.find((e) => e.key === 'offset')?.value ?? 0);
      expect(offset % 4096).toBe(0);
    }
    expect(bytes).toBeLessThan(statSync(join(dir, dataFileName)).size); // a layer's weights fewer
    const reference = removeBlock(source, 2, 1, findLayerBoundaries(source)).model;
    const expected = await logits(await ort.InferenceSession.create(encodeOnnxModel(reference)));
    expect(await logits(await ort.InferenceSession.create(join(out, 'model.onnx')))).toEqual(expected);
  });

  it('refuses locations outside the model folder, missing or short files, and lengths that disagree with the dims', async () => {
    const dir = join(scratch, 'broken');
    await saveAsExternalData(source, dir);
    const edited = (edit: (entries: { key?: string | null; value?: string | null }[]) => void) => {
      const model = decodeOnnxModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
      const tensor = model.graph?.initializer?.find((t) => (t.externalData ?? []).length > 0);
      edit(tensor?.externalData ?? []);
      return model;
    };
    const set = (key: string, value: string) => (entries: { key?: string | null; value?: string | null }[]) => {
      const entry = entries.find((e) => e.key === key);
      if (entry) entry.value = value;
    };
    await expect(checkExternalData(edited(set('location', '../../etc/passwd')), dir)).rejects.toThrow(
      /location "..\/..\/etc\/passwd" is not inside the model's folder/,
    );
    await expect(checkExternalData(edited(set('location', '/etc/passwd')), dir)).rejects.toThrow(
      /is not inside the model's folder/,
    );
    await expect(checkExternalData(edited(set('location', 'weights.bin')), dir)).rejects.toThrow(
      /external data file weights.bin \(of initializer \S+\) is missing beside the model/,
    );
    await expect(checkExternalData(edited(set('length', '12')), dir)).rejects.toThrow(
      /external data length 12, but its dims and type need \d+ bytes/,
    );
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(10));
    await expect(checkExternalData(edited(set('location', 'short.bin')), dir)).rejects.toThrow(
      /external data file short.bin has 10 bytes; initializer \S+ reads up to byte \d+/,
    );
  });
});
