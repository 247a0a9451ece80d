import { ModelStore } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreLanguageModels } from './language-model.js';

const store = new ModelStore(new URL('../../../../models', import.meta.url).pathname);
const models = new StoreLanguageModels(store, createLogger('language-model-test', 'warn'));
afterAll(() => models.close());

const english = [
  'The committee will meet on Tuesday to discuss the budget for next year.',
  'She opened the window and let the cool evening air into the room.',
];
// The same characters of each text, reordered by a fixed key: the same bytes, no language.
const scrambled = english.map((t) =>
  [...t].sort((a, b) => ((a.charCodeAt(0) * 7919) % 97) - ((b.charCodeAt(0) * 7919) % 97)).join(''),
);

describe('StoreLanguageModels (text-quality weights)', () => {
  it('scores per byte with a byte model and with a tokenizer model, and both tell English from noise', async () => {
    for (const name of ['byte-gpt', 'bpe-gpt']) {
      const ref = { name, version: '' };
      await expect(models.check(ref)).resolves.toBeUndefined();
      const prose = await models.perplexity(ref, english);
      const noise = await models.perplexity(ref, scrambled);
      // Perplexity per byte: 2^(bits per byte), a few for English, not per token (which would be ~2^8).
      expect(prose, name).toBeGreaterThan(1.5);
      expect(prose, name).toBeLessThan(16);
      expect(noise, name).toBeGreaterThan(prose * 1.5);
    }
  });

  it('refuses a model that is not a language model, and one whose tokens do not map onto bytes', async () => {
    await expect(models.check({ name: 'glove-sif-100d', version: '' })).rejects.toMatchObject({
      kind: 'invalid_argument',
      message: 'model glove-sif-100d/1 is not a language model',
    });
    await expect(models.check({ name: 'nope', version: '' })).rejects.toMatchObject({ kind: 'not_found' });
  });
});
