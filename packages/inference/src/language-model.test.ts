import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { contextLengthOf, decoderFeeds, predictedBytes, scoreText, textCodecOf } from './language-model.js';
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

describe('bpe-gpt through its tokenizer.json', () => {
  it('tokenizes as the recipe did, counts every byte once, and scores English with its own vocabulary', async () => {
    const model = await store.resolve('bpe-gpt');
    const codec = await textCodecOf(model);
    expect(codec).toMatchObject({ kind: 'tokenizer', vocabSize: 4096 });
    const reference = JSON.parse(readFileSync(join(model.dir, 'tokenizer-reference.json'), 'utf8')) as {
      texts: { text: string; ids: number[] }[];
    };
    expect(reference.texts.length).toBeGreaterThan(0);
    for (const { text, ids } of reference.texts) {
      const encoded = codec.encode(text);
      expect([...encoded.ids], text).toEqual(ids);
      expect(encoded.bytes.reduce((n, b) => n + b, 0)).toBe(Buffer.byteLength(text));
    }
    // The special token typed in text is matched as itself, and stands for its 13 bytes.
    const special = codec.encode('end<|endoftext|>start');
    expect([...special.ids]).toContain(4095);
    expect(special.bytes.reduce((n, b) => n + b, 0)).toBe(Buffer.byteLength('end<|endoftext|>start'));
    // Multi-byte characters: a token may hold part of a character, and the bytes still add up.
    const mixed = codec.encode('naïve café, 東京 🙂');
    expect(mixed.bytes.reduce((n, b) => n + b, 0)).toBe(Buffer.byteLength('naïve café, 東京 🙂'));

    const { session } = await sessions.get(model);
    const text = 'The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.';
    const score = await scoreText(session, [text], { contextLength: contextLengthOf(model), codec });
    expect(score.tokensScored).toBe(codec.encode(text).ids.length - 1);
    expect(score.bytesScored).toBe(Buffer.byteLength(text) - (codec.encode(text).bytes[0] ?? 0));
    expect(score.bitsPerByte).toBeGreaterThan(0.5);
    expect(score.bitsPerByte).toBeLessThan(4);
    // Shorter windows: the first token of each has no context and is not scored.
    expect(predictedBytes([text], 8, codec)).toBeLessThan(score.bytesScored);
  });

  it('feeds attention_mask and position_ids only to graphs that take them, padding after each row', () => {
    const feeds = decoderFeeds(['input_ids', 'attention_mask'], [Int32Array.of(5, 6, 7), Int32Array.of(8)], 0);
    expect(Object.keys(feeds).sort()).toEqual(['attention_mask', 'input_ids']);
    expect(feeds.input_ids?.dims).toEqual([2, 3]);
    const values = (t: { data: unknown } | undefined) => Array.from((t?.data ?? []) as BigInt64Array);
    expect(values(feeds.input_ids)).toEqual([5n, 6n, 7n, 8n, 0n, 0n]);
    expect(values(feeds.attention_mask)).toEqual([1n, 1n, 1n, 1n, 0n, 0n]);
    expect(values(decoderFeeds(['input_ids', 'position_ids'], [Int32Array.of(5, 6)], 0).position_ids)).toEqual([
      0n,
      1n,
    ]);
    expect(Object.keys(decoderFeeds(['input_ids'], [Int32Array.of(1)], 0))).toEqual(['input_ids']);
  });

  it('refuses a language model whose tokens do not map onto bytes', async () => {
    await expect(textCodecOf(await store.resolve('mini-sentence-encoder'))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('its tokenizer is not byte-level'),
    });
  });
});
