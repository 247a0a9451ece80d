import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHfFeaturizer } from './hf-featurizer.js';

interface Reference {
  tokenization: { text: string; tokens: string[]; input_ids: number[] }[];
  cases: { texts: string[]; inputs: Record<string, { dims: number[]; data: number[] }> }[];
}

async function load(name: string) {
  const modelDir = fileURLToPath(new URL(`../../../models/${name}/1/`, import.meta.url));
  const manifest = JSON.parse(await readFile(`${modelDir}model.json`, 'utf8'));
  const reference: Reference = JSON.parse(await readFile(`${modelDir}reference.json`, 'utf8'));
  const inputNames = manifest.inputs.map((i: { name: string }) => i.name);
  const featurizer = await createHfFeaturizer(modelDir, manifest.preprocessing, inputNames);
  return { featurizer, reference, inputNames };
}

// Each recipe tokenized these texts with a tokenizer of its own, independent of ours: mini-sentence-encoder
// with the recipe's Python WordPiece, mini-xlmr-encoder with SentencePiece itself.
const models = {
  'mini-sentence-encoder': 'accents, punctuation, CJK, unknowns, controls, truncation',
  'mini-xlmr-encoder': 'nmt_nfkc normalization, byte fallback, truncation',
};

for (const [name, covers] of Object.entries(models)) {
  describe(`${name} tokenizer.json against the recipe reference`, () => {
    it(`reproduces the recipe's tokenization exactly (${covers})`, async () => {
      const { featurizer, reference } = await load(name);
      expect(reference.tokenization.length).toBeGreaterThanOrEqual(6);
      for (const ref of reference.tokenization) {
        const e = featurizer.encode(ref.text);
        expect({ text: ref.text, ids: Array.from(e.ids) }).toEqual({ text: ref.text, ids: ref.input_ids });
        expect(featurizer.tokenizer.encode(ref.text, featurizer.maxTokens).tokens).toEqual(ref.tokens);
      }
      expect(reference.tokenization.some((r) => r.input_ids.length === featurizer.maxTokens)).toBe(true);
    });

    it('collates the reference cases into the exact feeds the recipe gave the ONNX graph', async () => {
      const { featurizer, reference, inputNames } = await load(name);
      for (const c of reference.cases) {
        const feeds = featurizer.collate(c.texts.map((t) => featurizer.encode(t)));
        expect(Object.keys(feeds).sort()).toEqual([...inputNames].sort());
        for (const [input, expected] of Object.entries(c.inputs)) {
          expect(feeds[input]!.dims).toEqual(expected.dims);
          expect(Array.from(feeds[input]!.data, Number)).toEqual(expected.data);
        }
      }
    });
  });
}
