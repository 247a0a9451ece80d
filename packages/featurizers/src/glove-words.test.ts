import { describe, expect, it } from 'vitest';
import { GloveWordsFeaturizer, gloveWords } from './glove-words.js';

// id:          0       1      2      3     4      5             6       7        8      9     10     11   12
const vocab = ['<pad>', 'the', 'cat', 'do', 'not', 'well-known', 'well', 'known', 'sat', 'we', 'are', 'o', 'can'];
const has = (w: string) => vocab.includes(w);

describe('gloveWords', () => {
  it('lowercases and drops punctuation', () => {
    expect(gloveWords('The CAT, sat!', has)).toEqual(['the', 'cat', 'sat']);
  });

  it('splits clitics the PTB way and maps unambiguous ones to full words', () => {
    expect(gloveWords("Don't", has)).toEqual(['do', 'not']);
    expect(gloveWords('We’re', has)).toEqual(['we', 'are']);
    expect(gloveWords("can't won't", has)).toEqual(['can', 'not', 'will', 'not']);
    expect(gloveWords("O'Brien's", has)).toEqual(['o', 'brien', "'s"]);
  });

  it('keeps a hyphenated word the vocabulary has and splits one it lacks', () => {
    expect(gloveWords('well-known well-made', has)).toEqual(['well-known', 'well', 'made']);
  });
});

describe('GloveWordsFeaturizer', () => {
  const featurizer = new GloveWordsFeaturizer(vocab, { maxTokens: 4 });

  it('maps words to ids and skips unknown words while counting them', () => {
    const e = featurizer.encode('The dog sat.');
    expect(Array.from(e.ids)).toEqual([1, 8]);
    expect(e).toMatchObject({ tokenCount: 3, fedTokens: 2, truncated: false });
  });

  it('never produces the padding id, even for the padding entry text', () => {
    expect(Array.from(featurizer.encode('pad <pad>').ids)).toEqual([]);
  });

  it('truncates to maxTokens known words', () => {
    const e = featurizer.encode('the cat sat, the cat sat');
    expect(Array.from(e.ids)).toEqual([1, 2, 8, 1]);
    expect(e).toMatchObject({ tokenCount: 6, fedTokens: 4, truncated: true });
  });

  it('pads a batch with id 0 to its longest input', () => {
    const feeds = featurizer.collate([featurizer.encode('the cat sat'), featurizer.encode('cat')]);
    expect(feeds.token_ids!.dtype).toBe('int64');
    expect(feeds.token_ids!.dims).toEqual([2, 3]);
    expect(Array.from(feeds.token_ids!.data, Number)).toEqual([1, 2, 8, 2, 0, 0]);
  });

  it('gives inputs without known words a one-wide row of padding', () => {
    const feeds = featurizer.collate([featurizer.encode('zzz'), featurizer.encode('')]);
    expect(feeds.token_ids!.dims).toEqual([2, 1]);
    expect(Array.from(feeds.token_ids!.data, Number)).toEqual([0, 0]);
  });

  it('reads a vocabulary file with CRLF line ends and a final newline', () => {
    const f = GloveWordsFeaturizer.fromVocabText('<pad>\r\nthe\r\ncat\r\n', { maxTokens: 8 });
    expect(f.vocabularySize).toBe(3);
    expect(f.idOf('cat')).toBe(2);
    expect(Array.from(f.encode('Cat the').ids)).toEqual([2, 1]);
  });
});
