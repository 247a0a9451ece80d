import { createLogger } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { predictedBytes, scoreText } from './language-model.js';
import { ModelStore } from './model-store.js';
import { SessionCache } from './sessions.js';

const store = new ModelStore(new URL('../../../models', import.meta.url).pathname);
const sessions = new SessionCache({ provider: 'cpu', logger: createLogger('byte-lm-test', 'warn') });
afterAll(() => sessions.close());

describe('scoreText on byte-gpt', () => {
  it('predicts every byte of a window but its first, and scores English well below 8 bits per byte', async () => {
    const { session } = await sessions.get(await store.resolve('byte-gpt'));
    const texts = ['The quick brown fox jumps over the lazy dog.', 'x'];
    expect(predictedBytes(texts, 256)).toBe(43); // 44 bytes - 1; "x" has nothing to predict
    const ticks: [number, number][] = [];
    const score = await scoreText(session, texts, { contextLength: 256, onProgress: (d, t) => ticks.push([d, t]) });
    expect(score.bytesScored).toBe(43);
    expect(score.bitsPerByte).toBeGreaterThan(0.5);
    expect(score.bitsPerByte).toBeLessThan(4);
    expect(ticks.at(-1)).toEqual([1, 1]);
  });

  it('refuses texts with nothing to predict, and stops when its signal aborts', async () => {
    const { session } = await sessions.get(await store.resolve('byte-gpt'));
    await expect(scoreText(session, ['x', ''], { contextLength: 256 })).rejects.toMatchObject({
      kind: 'invalid_argument',
    });
    const controller = new AbortController();
    controller.abort(new Error('cancelled by the job'));
    await expect(
      scoreText(session, ['enough text to score'], { contextLength: 256, signal: controller.signal }),
    ).rejects.toThrow('cancelled by the job');
  });
});
