import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodeNgramsFeaturizer } from './code-ngrams.js';
import { GloveWordsFeaturizer } from './glove-words.js';
import { createFeaturizer, PreprocessingError } from './load.js';

async function modelDirWithVocab(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'featurizers-'));
  await writeFile(join(dir, 'vocab.txt'), '<pad>\nhello\nworld\n');
  return dir;
}

describe('createFeaturizer', () => {
  it('builds a glove-words featurizer from the vocabulary file the manifest names', async () => {
    const dir = await modelDirWithVocab();
    const f = await createFeaturizer(dir, { kind: 'glove-words', vocab: 'vocab.txt', maxTokens: 8 }, ['token_ids']);
    expect(f).toBeInstanceOf(GloveWordsFeaturizer);
    expect(f.maxTokens).toBe(8);
    expect(Array.from(f.collate([f.encode('Hello, world!')]).token_ids!.data, Number)).toEqual([1, 2]);
  });

  it('builds a code-ngrams featurizer with the manifest options', async () => {
    const f = await createFeaturizer('/nonexistent', {
      kind: 'code-ngrams',
      buckets: 64,
      maxTokens: 100,
      hash: 'fnv1a32',
    });
    expect(f).toBeInstanceOf(CodeNgramsFeaturizer);
    expect(f.collate([f.encode('x = 1')]).features!.dims).toEqual([1, 64]);
  });

  it('names an unknown kind in its error', async () => {
    await expect(createFeaturizer('/tmp', { kind: 'sentencepiece' })).rejects.toThrow(
      /unknown preprocessing kind "sentencepiece"/,
    );
    await expect(createFeaturizer('/tmp', {})).rejects.toBeInstanceOf(PreprocessingError);
  });

  it('names the faulty key', async () => {
    await expect(createFeaturizer('/tmp', { kind: 'code-ngrams', buckets: 0, maxTokens: 5 })).rejects.toThrow(
      /"buckets" must be a positive integer/,
    );
    await expect(
      createFeaturizer('/tmp', { kind: 'code-ngrams', buckets: 8, maxTokens: 5, hash: 'murmur3' }),
    ).rejects.toThrow(/"hash"/);
  });

  it('refuses a vocabulary path outside the model folder', async () => {
    const dir = await modelDirWithVocab();
    await expect(createFeaturizer(dir, { kind: 'glove-words', vocab: '../x.txt', maxTokens: 8 })).rejects.toThrow(
      /outside the model folder/,
    );
  });

  it('reports a missing vocabulary file', async () => {
    const dir = await modelDirWithVocab();
    await expect(createFeaturizer(dir, { kind: 'glove-words', vocab: 'nope.txt', maxTokens: 8 })).rejects.toThrow(
      /cannot read vocabulary/,
    );
  });

  it('refuses a graph that lacks the input the featurizer feeds', async () => {
    const dir = await modelDirWithVocab();
    await expect(
      createFeaturizer(dir, { kind: 'glove-words', vocab: 'vocab.txt', maxTokens: 8 }, ['input_ids', 'attention_mask']),
    ).rejects.toThrow(/no input "token_ids"/);
  });
});
