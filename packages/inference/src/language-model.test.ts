import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@sift/kit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  contextLengthOf,
  decoderFeeds,
  emptyCacheDims,
  predictedBytes,
  scoreText,
  textCodecOf,
} from './language-model.js';
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
    const names = (...inputNames: string[]) => ({ inputNames });
    const feeds = decoderFeeds(names('input_ids', 'attention_mask'), [Int32Array.of(5, 6, 7), Int32Array.of(8)], 0);
    expect(Object.keys(feeds).sort()).toEqual(['attention_mask', 'input_ids']);
    expect(feeds.input_ids?.dims).toEqual([2, 3]);
    const values = (t: { data: unknown } | undefined) => Array.from((t?.data ?? []) as BigInt64Array);
    expect(values(feeds.input_ids)).toEqual([5n, 6n, 7n, 8n, 0n, 0n]);
    expect(values(feeds.attention_mask)).toEqual([1n, 1n, 1n, 1n, 0n, 0n]);
    expect(values(decoderFeeds(names('input_ids', 'position_ids'), [Int32Array.of(5, 6)], 0).position_ids)).toEqual([
      0n,
      1n,
    ]);
    expect(Object.keys(decoderFeeds(names('input_ids'), [Int32Array.of(1)], 0))).toEqual(['input_ids']);
  });

  it('scores through a key/value-cache export (bpe-gpt-with-past) exactly as through the plain graph', async () => {
    const plain = await store.resolve('bpe-gpt');
    const cached = await store.resolve('bpe-gpt-with-past');
    const codec = await textCodecOf(cached);
    const { session } = await sessions.get(cached);
    // An empty cache per layer: [batch, heads, 0, head_dim] from the declared [batch_size, 4, past, 32].
    const feeds = decoderFeeds(session, [Int32Array.of(5, 6, 7), Int32Array.of(8)], codec.padId);
    expect(Object.keys(feeds).filter((k) => k.startsWith('past_key_values.'))).toHaveLength(12);
    expect(feeds['past_key_values.5.value']?.dims).toEqual([2, 4, 0, 32]);
    expect(feeds.position_ids?.dims).toEqual([2, 3]);
    const texts = [
      'The quick brown fox jumps over the lazy dog.',
      'Curiosity killed the cat, satisfaction brought it back.',
    ];
    const opts = { contextLength: contextLengthOf(cached), codec };
    const viaCache = await scoreText(session, texts, opts);
    const viaPlain = await scoreText((await sessions.get(plain)).session, texts, opts);
    expect(viaCache.bytesScored).toBe(viaPlain.bytesScored);
    expect(Math.abs(viaCache.bitsPerByte - viaPlain.bitsPerByte)).toBeLessThan(1e-5);
  });

  it('refuses a cache input whose shape does not say which axis is the past', () => {
    expect(emptyCacheDims('past_key_values.0.key', ['batch', 4, 'past', 32], 3)).toEqual([3, 4, 0, 32]);
    for (const shape of [
      ['batch', 4, 7, 32], // a fixed past length
      ['batch', 'heads', 'past', 32], // two symbolic axes besides the batch
      ['batch', 'past'],
    ]) {
      expect(() => emptyCacheDims('past_key_values.0.key', shape, 1)).toThrow(/exactly one symbolic past-length axis/);
    }
    const session = {
      inputNames: ['input_ids', 'past_key_values.0.key'],
      inputMetadata: [{ name: 'past_key_values.0.key', isTensor: true, type: 'float16', shape: ['b', 4, 'p', 32] }],
    } as const;
    expect(() => decoderFeeds(session, [Int32Array.of(1)], 0)).toThrow(/"past_key_values.0.key" is float16/);
  });

  it('refuses a language model whose tokens do not map onto bytes', async () => {
    await expect(textCodecOf(await store.resolve('mini-sentence-encoder'))).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('its tokenizer is not byte-level'),
    });
  });

  it('counts the bytes of a SentencePiece Unigram vocabulary with byte fallback, and refuses one without', async () => {
    // mini-xlmr-encoder is an encoder, but its tokenizer.json is what a Unigram decoder would ship.
    const unigram = await store.resolve('mini-xlmr-encoder');
    const codec = await textCodecOf(unigram);
    const text = 'The quick brown fox, naïve café 東京 🙂';
    const { ids, bytes } = codec.encode(text);
    expect(ids.length).toBeGreaterThan(5);
    // Every byte of the text once, plus the "▁" Metaspace prepends to it.
    expect(bytes.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(text) + 1);

    const dir = mkdtempSync(join(tmpdir(), 'sift-unigram-'));
    const json = JSON.parse(readFileSync(join(unigram.dir, 'tokenizer.json'), 'utf8'));
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify({ ...json, model: { ...json.model, byte_fallback: false } }),
    );
    await expect(textCodecOf({ ...unigram, dir })).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: expect.stringContaining('its tokenizer is not byte-level'),
    });
    rmSync(dir, { recursive: true });
  });
});
