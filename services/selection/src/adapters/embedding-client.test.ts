import { describe, expect, it } from 'vitest';
import { chunkStarts, maxCharsSent } from './embedding-client.js';

describe('chunkStarts', () => {
  it('cuts chunks at batchSize texts or at the byte budget, whichever comes first, one text at least', () => {
    const texts = ['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10), 'd'.repeat(10), 'e'.repeat(10)];
    expect(chunkStarts(texts, 2, 1_000)).toEqual([0, 2, 4, 5]);
    // 18 bytes per text (10 + 8 of framing): two fit in 40 bytes, three do not.
    expect(chunkStarts(texts, 10, 40)).toEqual([0, 2, 4, 5]);
    // A text larger than the budget still goes, alone.
    expect(chunkStarts(['x'.repeat(100), 'y'], 10, 40)).toEqual([0, 1, 2]);
    expect(chunkStarts([], 10, 40)).toEqual([0]); // no chunk
  });

  it('counts a long text as sent, cut to maxCharsSent characters', () => {
    const long = 'z'.repeat(maxCharsSent * 3);
    expect(chunkStarts([long, long], 10, 2 * (maxCharsSent + 8))).toEqual([0, 2]);
  });
});
