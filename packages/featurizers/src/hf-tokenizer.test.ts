import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHfFeaturizer, HfFeaturizer } from './hf-featurizer.js';
import { HfTokenizer, HfTokenizerError } from './hf-tokenizer.js';

// A BERT-uncased tokenizer.json in miniature, small enough to check every id by hand.
// Ten ids per line: [PAD] is 0, cafe is 5, hello is 10, 北 is 15, . is 20, b is 25.
const vocabList = [
  ...'[PAD] [UNK] [CLS] [SEP] [MASK] cafe deja vu , !'.split(' '),
  ...`hello world un ##believ ##able 北 京 is ' s`.split(' '),
  ...'. the dog ##s a b ##a a, ,b -'.split(' '),
];
const vocab = Object.fromEntries(vocabList.map((t, i) => [t, i]));
const special = (id: string) => ({ SpecialToken: { id, type_id: 0 } });

function bertJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 12,
      vocab,
    },
    ...overrides,
  };
}

const bert = new HfTokenizer(bertJson());
const tokens = (t: HfTokenizer, text: string, max?: number) => t.encode(text, max).tokens;

describe('HfTokenizer with BertNormalizer + BertPreTokenizer + WordPiece', () => {
  it('strips accents and lowercases (uncased BERT: strip_accents null follows lowercase)', () => {
    expect(Array.from(bert.encode('Café DÉJÀ vu!').ids)).toEqual([2, 5, 6, 7, 9, 3]);
  });

  it('keeps an unassigned code point as [UNK] and splits CJK where the Rust tokenizer does', () => {
    // U+0378 is unassigned: `tokenizers` keeps it (an unknown word), it does not drop it like a control.
    expect(tokens(bert, 'hello \u0378 world')).toEqual(['[CLS]', 'hello', '[UNK]', 'world', '[SEP]']);
    // U+2B820..U+2B91F are outside the Rust pre-tokenizer's CJK ranges: one word with its neighbours.
    expect(tokens(bert, 'a\u{2B820}b')).toEqual(['[CLS]', '[UNK]', '[SEP]']);
    expect(tokens(bert, 'a\u{2B920}b')).toEqual(['[CLS]', 'a', '[UNK]', 'b', '[SEP]']);
  });

  it('keeps accents when strip_accents is false', () => {
    const cased = new HfTokenizer(
      bertJson({ normalizer: { type: 'BertNormalizer', strip_accents: false, lowercase: true } }),
    );
    expect(tokens(cased, 'Café vu')).toEqual(['[CLS]', '[UNK]', 'vu', '[SEP]']);
  });

  it('isolates every punctuation character, ASCII symbols included', () => {
    expect(tokens(bert, "hello,world's.")).toEqual(['[CLS]', 'hello', ',', 'world', "'", 's', '.', '[SEP]']);
    expect(tokens(bert, 'a-b')).toEqual(['[CLS]', 'a', '-', 'b', '[SEP]']);
  });

  it('makes each CJK ideograph a word even without spaces', () => {
    expect(tokens(bert, '北京is')).toEqual(['[CLS]', '北', '京', 'is', '[SEP]']);
    // Without handle_chinese_chars "北京is" is one word with no piece for it: a single [UNK].
    const plain = new HfTokenizer(bertJson({ normalizer: { type: 'BertNormalizer', handle_chinese_chars: false } }));
    expect(tokens(plain, '北京is')).toEqual(['[CLS]', '[UNK]', '[SEP]']);
  });

  it('splits words into ## continuation pieces, longest match first', () => {
    expect(tokens(bert, 'Unbelievable dogs')).toEqual(['[CLS]', 'un', '##believ', '##able', 'dog', '##s', '[SEP]']);
    expect(tokens(bert, 'baa')).toEqual(['[CLS]', 'b', '##a', '##a', '[SEP]']);
  });

  it('maps a word with any unmatched part to one [UNK], and over-long words too', () => {
    expect(tokens(bert, 'hello zebra dogx')).toEqual(['[CLS]', 'hello', '[UNK]', '[UNK]', '[SEP]']);
    expect(tokens(bert, 'baaaaaaaaaaa')).toHaveLength(14); // 12 chars: b + 11 × ##a
    expect(tokens(bert, 'baaaaaaaaaaaa')).toEqual(['[CLS]', '[UNK]', '[SEP]']); // 13 > max_input_chars_per_word
  });

  it('drops control and format characters and turns other whitespace into separators', () => {
    expect(tokens(bert, 'hel\u0000lo\u200b\tworld\u00a0dog\ufffd')).toEqual([
      '[CLS]',
      'hello',
      'world',
      'dog',
      '[SEP]',
    ]);
    expect(tokens(bert, '')).toEqual(['[CLS]', '[SEP]']);
  });

  it('recognizes special tokens written in the text before normalizing', () => {
    expect(tokens(bert, 'The [MASK] dog')).toEqual(['[CLS]', 'the', '[MASK]', 'dog', '[SEP]']);
    expect(tokens(bert, 'the [mask]')).toEqual(['[CLS]', 'the', '[UNK]', '[UNK]', '[UNK]', '[SEP]']);
  });

  it('truncates the pieces so that the special tokens still fit in maxTokens', () => {
    const e = bert.encode('hello world hello', 4);
    expect(e.tokens).toEqual(['[CLS]', 'hello', 'world', '[SEP]']);
    expect(e).toMatchObject({ truncated: true, tokenCount: 5 });
    expect(bert.encode('hello world', 4)).toMatchObject({ truncated: false, tokenCount: 4 });
    const left = new HfTokenizer(
      bertJson({ truncation: { direction: 'Left', max_length: 4, strategy: 'LongestFirst', stride: 0 } }),
    );
    expect(tokens(left, 'hello world dog', 4)).toEqual(['[CLS]', 'world', 'dog', '[SEP]']);
    expect(() => bert.encode('hello', 2)).toThrow(RangeError);
  });

  it('applies BertProcessing like the [CLS] $A [SEP] template', () => {
    const t = new HfTokenizer(
      bertJson({ post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] } }),
    );
    expect(Array.from(t.encode('dogs').ids)).toEqual([2, 22, 23, 3]);
    expect(Array.from(t.encode('dogs').typeIds)).toEqual([0, 0, 0, 0]);
  });
});

describe('HfTokenizer with other BERT-family components', () => {
  it('chains Sequence normalizers (NFD, Lowercase, StripAccents) and the Whitespace pre-tokenizer', () => {
    const t = new HfTokenizer(
      bertJson({
        normalizer: {
          type: 'Sequence',
          normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }],
        },
        pre_tokenizer: { type: 'Whitespace' },
      }),
    );
    // Whitespace is \w+|[^\w\s]+: a run of punctuation stays together ("!!" has no piece).
    expect(tokens(t, 'Déjà-Vu !!')).toEqual(['[CLS]', 'deja', '-', 'vu', '[UNK]', '[SEP]']);
  });

  it('splits at punctuation with each SplitDelimiterBehavior', () => {
    const withBehavior = (behavior: string) =>
      new HfTokenizer(
        bertJson({
          pre_tokenizer: {
            type: 'Sequence',
            pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior }],
          },
        }),
      );
    expect(tokens(withBehavior('Isolated'), 'a,,b')).toEqual(['[CLS]', 'a', ',', ',', 'b', '[SEP]']);
    expect(tokens(withBehavior('Removed'), 'a,,b')).toEqual(['[CLS]', 'a', 'b', '[SEP]']);
    expect(tokens(withBehavior('MergedWithPrevious'), 'a,,b')).toEqual(['[CLS]', 'a,', ',', 'b', '[SEP]']);
    expect(tokens(withBehavior('MergedWithNext'), 'a,,b')).toEqual(['[CLS]', 'a', ',', ',b', '[SEP]']);
    expect(tokens(withBehavior('Contiguous'), 'a,,b')).toEqual(['[CLS]', 'a', '[UNK]', 'b', '[SEP]']); // ",," has no piece
  });

  it('matches a single_word added token only as a whole word', () => {
    const t = new HfTokenizer(
      bertJson({
        added_tokens: [
          { id: 30, content: 'xyz', single_word: true, lstrip: false, rstrip: false, normalized: true, special: false },
        ],
      }),
    );
    expect(Array.from(t.encode('a xyz b').ids)).toEqual([2, 24, 30, 25, 3]);
    expect(tokens(t, 'axyz')).toEqual(['[CLS]', '[UNK]', '[SEP]']);
  });

  it('names unsupported components in its errors', () => {
    const make = (o: Record<string, unknown>) => () => new HfTokenizer(bertJson(o));
    expect(make({ model: { type: 'CharLevel', vocab: {} } })).toThrow(
      /unsupported model "CharLevel": WordPiece, BPE, Unigram and WordLevel are implemented/,
    );
    expect(make({ normalizer: { type: 'ByteLevel' } })).toThrow(/unsupported normalizer "ByteLevel"/);
    expect(make({ pre_tokenizer: { type: 'Metaspace', prepend_scheme: 'sometimes' } })).toThrow(
      /pre_tokenizer Metaspace: unsupported prepend_scheme "sometimes"/,
    );
    expect(make({ pre_tokenizer: { type: 'UnicodeScripts' } })).toThrow(/unsupported pre_tokenizer "UnicodeScripts"/);
    expect(make({ post_processor: { type: 'RobertaProcessingV2' } })).toThrow(
      /unsupported post_processor "RobertaProcessingV2"/,
    );
    expect(make({ model: { type: 'WordPiece', unk_token: '<unk>', vocab } })).toThrow(/unk_token "<unk>"/);
    expect(make({ model: { type: 'CharLevel' } })).toThrow(HfTokenizerError);
    expect(make({ model: { type: 'CharLevel' } })).toThrow(expect.objectContaining({ kind: 'unsupported' }));
    expect(make({ model: { type: 'WordLevel' } })).toThrow(expect.objectContaining({ kind: 'invalid' })); // no vocab
    expect(make({ model: { type: 'Unigram' } })).toThrow(expect.objectContaining({ kind: 'invalid' })); // no vocab
    expect(make({ model: { type: 'BPE' } })).toThrow(expect.objectContaining({ kind: 'invalid' })); // no vocab
  });

  it('reads a model without a type by its keys, as older files have it', () => {
    const { type: _, ...untyped } = bertJson().model as Record<string, unknown>;
    expect(tokens(new HfTokenizer(bertJson({ model: untyped })), 'dogs')).toEqual(['[CLS]', 'dog', '##s', '[SEP]']);
    const bpe = new HfTokenizer(bertJson({ model: { vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] } }));
    expect(bpe.tokenize('ab')).toEqual([2]);
  });

  it('knows no byte lengths for a WordPiece vocabulary', () => {
    expect(bert).toMatchObject({ byteLevel: false, vocabSize: 30 });
    expect(() => bert.tokenByteLength(5)).toThrow(expect.objectContaining({ kind: 'unsupported' }));
  });
});

describe('HfFeaturizer', () => {
  it('pads a batch with the pad id and feeds token_type_ids only when the graph takes them', () => {
    const f = new HfFeaturizer(bert, {
      maxTokens: 8,
      pooling: 'mean',
      outputName: 'last_hidden_state',
      inputNames: ['input_ids', 'attention_mask', 'token_type_ids'],
    });
    const feeds = f.collate([f.encode('dogs'), f.encode('hello')]);
    expect(Object.keys(feeds)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(feeds.input_ids!.dims).toEqual([2, 4]);
    expect(Array.from(feeds.input_ids!.data, Number)).toEqual([2, 22, 23, 3, 2, 10, 3, 0]);
    expect(Array.from(feeds.attention_mask!.data, Number)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
    expect(Array.from(feeds.token_type_ids!.data, Number)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const noTypes = new HfFeaturizer(bert, {
      maxTokens: 8,
      pooling: 'cls',
      outputName: 'x',
      inputNames: ['input_ids', 'attention_mask'],
    });
    expect(Object.keys(noTypes.collate([noTypes.encode('dogs')]))).toEqual(['input_ids', 'attention_mask']);
  });

  it('reports token counts before and after truncation', () => {
    const f = new HfFeaturizer(bert, { maxTokens: 4, pooling: 'mean', outputName: 'last_hidden_state' });
    expect(f.encode('hello world dogs')).toMatchObject({ tokenCount: 6, fedTokens: 4, truncated: true });
  });

  it('is created from a manifest preprocessing block and the tokenizer.json it names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hf-tokenizer-'));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(bertJson({ padding: { pad_id: 0, pad_type_id: 0 } })));
    const pre = {
      kind: 'hf-tokenizer',
      tokenizer: 'tokenizer.json',
      maxTokens: 16,
      pooling: 'mean',
      outputName: 'last_hidden_state',
    };
    const f = await createHfFeaturizer(dir, pre, ['input_ids', 'attention_mask', 'token_type_ids']);
    expect(f).toMatchObject({ kind: 'hf-tokenizer', maxTokens: 16, pooling: 'mean', outputName: 'last_hidden_state' });
    await expect(createHfFeaturizer(dir, { ...pre, pooling: 'max' })).rejects.toThrow(
      /"pooling" must be "mean" or "cls"/,
    );
    await expect(createHfFeaturizer(dir, { ...pre, tokenizer: '../x.json' })).rejects.toThrow(
      /outside the model folder/,
    );
    await expect(createHfFeaturizer(dir, pre, ['pixel_values'])).rejects.toThrow(/must take input_ids/);
  });
});
