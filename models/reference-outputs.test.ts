import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { graphFile, ModelStore, SessionCache } from '@sift/inference';
import { createLogger } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every model in the store ships reference input/output pairs computed by its recipe; onnxruntime-node
 * must reproduce them within the stated tolerance. The max abs diff per output is printed.
 */
const store = new ModelStore(new URL('.', import.meta.url).pathname);
const sessions = new SessionCache({ provider: 'cpu', logger: createLogger('reference-test', 'warn') });
afterAll(() => sessions.close());

interface RefTensor {
  dtype: 'float32' | 'int64' | 'int32' | 'uint8';
  dims: number[];
  data: number[];
}
interface RefCase {
  graph?: string;
  inputs: Record<string, RefTensor>;
  outputs: Record<string, RefTensor>;
  tolerance?: number;
}

const toTensor = (t: RefTensor) =>
  t.dtype === 'int64'
    ? new ort.Tensor('int64', BigInt64Array.from(t.data.map((v) => BigInt(v))), t.dims)
    : t.dtype === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(t.data), t.dims)
      : t.dtype === 'uint8'
        ? new ort.Tensor('uint8', Uint8Array.from(t.data), t.dims)
        : new ort.Tensor('float32', Float32Array.from(t.data), t.dims);

const models = await store.list();

describe('models reproduce their reference outputs in onnxruntime-node', () => {
  it('finds every default model in the store', () => {
    const names = models.map((m) => m.name);
    for (const name of [
      'glove-sif-100d',
      'code-ngram',
      'mini-sentence-encoder',
      'mini-xlmr-encoder',
      'byte-gpt',
      'bpe-gpt',
      'bpe-gpt-with-past',
      'llama-mini',
      'nested-ae',
      'digits-cls',
    ]) {
      expect(names).toContain(name);
    }
  });

  for (const model of models) {
    it(`${model.name}/${model.version}: files match their manifest's sha256`, () => {
      const declared = model.manifest.sha256;
      const sums =
        typeof declared === 'string' ? [[graphFile(model.manifest), declared]] : Object.entries(declared ?? {});
      expect(sums.length, 'the manifest lists no sha256').toBeGreaterThan(0);
      // Every graph the manifest names is covered by a checksum.
      for (const file of Object.values(model.manifest.graphs ?? {})) expect(sums.map(([f]) => f)).toContain(file);
      for (const [file, sha] of sums) {
        expect(
          createHash('sha256')
            .update(readFileSync(join(model.dir, file)))
            .digest('hex'),
          file,
        ).toBe(sha);
      }
    });

    it(`${model.name}/${model.version}`, async () => {
      const ref = JSON.parse(readFileSync(join(model.dir, 'reference.json'), 'utf8')) as { cases: RefCase[] };
      expect(ref.cases.length).toBeGreaterThan(0);
      for (const [i, c] of ref.cases.entries()) {
        const graph = await sessions.get(model, c.graph ?? 'model');
        const feeds = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, toTensor(v)]));
        const out = await graph.session.run(feeds);
        for (const [name, want] of Object.entries(c.outputs)) {
          const got = out[name];
          expect(got, `case ${i}: output ${name}`).toBeDefined();
          expect([...(got?.dims ?? [])]).toEqual(want.dims);
          const data = got?.data as ArrayLike<number | bigint>;
          let maxDiff = 0;
          for (let j = 0; j < want.data.length; j++)
            maxDiff = Math.max(maxDiff, Math.abs(Number(data[j]) - (want.data[j] as number)));
          console.info(`${model.name}/${model.version} case ${i} ${name}: max abs diff ${maxDiff.toExponential(2)}`);
          expect(maxDiff).toBeLessThanOrEqual(c.tolerance ?? 1e-4);
        }
      }
    });
  }
});
