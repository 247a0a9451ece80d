import type { ModelManifest } from '@sift/inference';
import { describe, expect, it } from 'vitest';
import { embeddingInfo } from './onnx-encoders.js';

describe('embeddingInfo', () => {
  it('says what a model is when it is not an embedding model, with the right article', () => {
    const model = (task: string) => ({ name: 'm', version: '1', dir: '/m/1', manifest: { task } as ModelManifest });
    expect(() => embeddingInfo(model('image-classifier'))).toThrow(
      'model m/1 is an image-classifier model, not an embedding model',
    );
    expect(() => embeddingInfo(model('language-model'))).toThrow(
      'model m/1 is a language-model model, not an embedding model',
    );
  });
});
