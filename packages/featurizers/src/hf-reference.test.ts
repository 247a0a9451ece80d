import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHfFeaturizer } from './hf-featurizer.js';

// The recipe models/recipes/mini_sentence_encoder.py tokenized these texts with its own (Python) WordPiece.
const modelDir = fileURLToPath(new URL('../../../models/mini-sentence-encoder/1/', import.meta.url));

interface Reference {
  tokenization: { text: string; tokens: string[]; input_ids: number[] }[];
  cases: { texts: string[]; inputs: Record<string, { dims: number[]; data: number[] }> }[];
}

async function load() {
  const manifest = JSON.parse(await readFile(`${modelDir}model.json`, 'utf8'));
  const reference: Reference = JSON.parse(await readFile(`${modelDir}reference.json`, 'utf8'));
  const inputNames = manifest.inputs.map((i: { name: string }) => i.name);
  const featurizer = await createHfFeaturizer(modelDir, manifest.preprocessing, inputNames);
  return { featurizer, reference };
}

describe('mini-sentence-encoder tokenizer.json against the recipe reference', () => {
  it('reproduces the Python tokenization exactly (accents, punctuation, CJK, unknowns, controls, truncation)', async () => {
    const { featurizer, reference } = await load();
    expect(reference.tokenization.length).toBeGreaterThanOrEqual(6);
    for (const ref of reference.tokenization) {
      const e = featurizer.encode(ref.text);
      expect({ text: ref.text, ids: Array.from(e.ids) }).toEqual({ text: ref.text, ids: ref.input_ids });
      expect(featurizer.tokenizer.encode(ref.text, featurizer.maxTokens).tokens).toEqual(ref.tokens);
    }
    expect(reference.tokenization.some((r) => r.input_ids.length === featurizer.maxTokens)).toBe(true);
  });

  it('collates the reference cases into the exact feeds the recipe gave the ONNX graph', async () => {
    const { featurizer, reference } = await load();
    for (const c of reference.cases) {
      const feeds = featurizer.collate(c.texts.map((t) => featurizer.encode(t)));
      for (const [name, expected] of Object.entries(c.inputs)) {
        expect(feeds[name]!.dims).toEqual(expected.dims);
        expect(Array.from(feeds[name]!.data, Number)).toEqual(expected.data);
      }
    }
  });
});
