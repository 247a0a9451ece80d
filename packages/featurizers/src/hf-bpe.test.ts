import { describe, expect, it } from 'vitest';
import { BPE, buildBpe } from './hf-bpe.js';
import { BYTE_CHARS } from './hf-byte-level.js';
import { HfTokenizer, HfTokenizerError } from './hf-tokenizer.js';

// A BPE model in miniature: a b c are 0 1 2, then the tokens merges can make.
const tinyVocab = { a: 0, b: 1, c: 2, ab: 3, bc: 4, abc: 5, '<unk>': 6, aa: 7 };
const tiny = (model: Record<string, unknown>) => buildBpe({ type: 'BPE', vocab: tinyVocab, merges: [], ...model });

describe('BPE model', () => {
  it('applies the lowest-rank merge first, merges given as "a b" strings or ["a", "b"] pairs alike', () => {
    expect(tiny({ merges: ['a b', 'b c'] }).tokenize('abc')).toEqual([3, 2]); // ab c
    expect(tiny({ merges: ['b c', 'a b'] }).tokenize('abc')).toEqual([0, 4]); // a bc
    expect(
      tiny({
        merges: [
          ['a', 'b'],
          ['b', 'c'],
        ],
      }).tokenize('abc'),
    ).toEqual([3, 2]);
    expect(
      tiny({
        merges: [
          ['b', 'c'],
          ['a', 'b'],
        ],
      }).tokenize('abc'),
    ).toEqual([0, 4]);
    // Merging goes on while a merge applies: ab + c needs "ab c".
    expect(tiny({ merges: ['a b', 'ab c'], vocab: { ...tinyVocab } }).tokenize('abc')).toEqual([5]);
  });

  it('merges every occurrence of a pair left to right, never overlapping', () => {
    const model = tiny({ merges: ['a a'] });
    expect(model.tokenize('aaa')).toEqual([7, 0]);
    expect(model.tokenize('aaaa')).toEqual([7, 7]);
    expect(model.tokenize('')).toEqual([]);
  });

  it("follows the library's queue when a merge makes a pair that outranks the pending ones", () => {
    // "a a" at 0 makes "aa", whose pair with the next "a" ranks first and takes it before "a a" at 2 runs:
    // aaa a, where merging every "a a" first would give aa aa.
    const model = buildBpe({ type: 'BPE', vocab: { a: 0, aa: 1, aaa: 2 }, merges: ['aa a', 'a a'] });
    expect(model.tokenize('aaaa')).toEqual([2, 0]);
  });

  it('ranks a merge listed twice by its last position, skips a "#version" header, as the library does', () => {
    expect(tiny({ merges: ['a b', 'b c', 'a b'] }).tokenize('abc')).toEqual([0, 4]);
    expect(tiny({ merges: ['#version: 0.2', 'a b', 'b c'] }).tokenize('abc')).toEqual([3, 2]);
  });

  it('with ignore_merges emits a word found whole in the vocabulary as one token', () => {
    expect(tiny({ merges: ['b c'] }).tokenize('abc')).toEqual([0, 4]);
    expect(tiny({ merges: ['b c'], ignore_merges: true }).tokenize('abc')).toEqual([5]);
    expect(tiny({ merges: ['b c'], ignore_merges: true }).tokenize('bca')).toEqual([4, 0]); // not whole: merged
  });

  it('stands unk_token in for characters missing from the vocab, one per character unless fused', () => {
    expect(tiny({ merges: ['a b'], unk_token: '<unk>' }).tokenize('axxb')).toEqual([0, 6, 6, 1]);
    expect(tiny({ merges: ['a b'], unk_token: '<unk>', fuse_unk: true }).tokenize('axxb')).toEqual([0, 6, 1]);
  });

  it('refuses a character missing from the vocab without unk_token, naming it (the library would drop it)', () => {
    expect(() => tiny({ merges: ['a b'] }).tokenize('axb')).toThrow(/"x" \(U\+0078\) is not in the vocab/);
    expect(() => tiny({ merges: [], unk_token: '<none>' }).tokenize('x')).toThrow(
      /unk_token "<none>" is not in the vocab/,
    );
    // The missing unk_token matters only once it is needed, as in the library.
    expect(tiny({ merges: [], unk_token: '<none>' }).tokenize('ab')).toEqual([0, 1]);
  });

  it('refuses settings it does not follow, naming them', () => {
    const refusal = (model: Record<string, unknown>, message: RegExp) => {
      expect(() => tiny(model)).toThrow(message);
      expect(() => tiny(model)).toThrow(expect.objectContaining({ kind: 'unsupported' }));
    };
    refusal({ continuing_subword_prefix: '##' }, /continuing_subword_prefix "##"/);
    refusal({ end_of_word_suffix: '</w>' }, /end_of_word_suffix "<\/w>"/);
    refusal({ dropout: 0.1 }, /dropout 0.1/);
    // The values a GPT-2 file spells its defaults with are accepted.
    expect(
      tiny({ continuing_subword_prefix: '', end_of_word_suffix: null, dropout: null, byte_fallback: false }),
    ).toBeInstanceOf(BPE);
  });

  it('refuses merges whose tokens or result are missing from the vocab, naming the merge', () => {
    const invalid = (merges: unknown[], message: RegExp) => {
      expect(() => tiny({ merges })).toThrow(message);
      expect(() => tiny({ merges })).toThrow(expect.objectContaining({ kind: 'invalid' }));
    };
    invalid(['a b', 'a x'], /model.merges\[1\] \["a","x"\]: "x" is not in the vocab/);
    invalid([['c', 'a']], /model.merges\[0\] \["c","a"\]: "ca" is not in the vocab/);
    invalid(['a b c'], /model.merges\[0\] "a b c" is not two tokens/);
    invalid([['a']], /model.merges\[0\] must be/);
    expect(() => tiny({ vocab: { a: -1 } })).toThrow(/id of "a" is not a non-negative integer/);
    expect(() => tiny({ vocab: { a: 1.5 } })).toThrow(HfTokenizerError);
  });
});

// GPT-2's tokenizer.json in miniature, laid out as `tokenizers` serializes it. The vocabulary starts as
// GPT-2's does (the printable bytes in byte order from "!" = 0, then the 68 moved bytes, so "Ġ" = 220 and
// "Ċ" = 198) and has GPT-2's first seven merges, ids 256-262 ("Ġthe" = 262), and `<|endoftext|>` = 50256.
const gpt2Merges: [string, string][] = [
  ['Ġ', 't'],
  ['Ġ', 'a'],
  ['h', 'e'],
  ['i', 'n'],
  ['r', 'e'],
  ['o', 'n'],
  ['Ġt', 'he'],
];

function gpt2Json(overrides: Record<string, unknown> = {}, model: Record<string, unknown> = {}) {
  const printable = BYTE_CHARS.filter((ch) => ch.codePointAt(0)! < 0x100);
  const moved = BYTE_CHARS.filter((ch) => ch.codePointAt(0)! >= 0x100);
  const vocab: Record<string, number> = {};
  for (const ch of [...printable, ...moved]) vocab[ch] = Object.keys(vocab).length;
  gpt2Merges.forEach(([a, b], rank) => {
    vocab[a + b] = 256 + rank;
  });
  vocab['<|endoftext|>'] = 50256;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 50256,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: gpt2Merges,
      ...model,
    },
    ...overrides,
  };
}

const gpt2 = new HfTokenizer(gpt2Json());
const utf8Length = (text: string) => new TextEncoder().encode(text).length;

describe('HfTokenizer with a GPT-2 byte-level BPE tokenizer.json', () => {
  it('encodes with GPT-2 ids and adds no special tokens (the ByteLevel post-processor only trims offsets)', () => {
    expect(Array.from(gpt2.encode(' the').ids)).toEqual([262]);
    // "t" is byte 116, id 116 - 33; "he" is merge 2.
    expect(gpt2.encode('the in')).toMatchObject({ tokens: ['t', 'he', 'Ġ', 'in'], tokenCount: 4 });
    expect(Array.from(gpt2.encode('the in').ids)).toEqual([83, 258, 220, 259]);
    expect(gpt2.tokenize('in\n\n the  re')).toEqual([259, 198, 198, 262, 220, 220, 260]);
    expect(gpt2.addedTokenCount).toBe(0);
  });

  it('cuts <|endoftext|> out of the text before splitting', () => {
    expect(gpt2.tokenize('Hello there<|endoftext|>on')).toEqual([39, 68, 75, 75, 78, 262, 260, 50256, 261]);
  });

  it('encodes non-ASCII text byte by byte: é as C3 A9, an emoji as its 4 bytes', () => {
    // A moved byte's id is 188 + its rank among the 68; a printable one above 0xA0 sits after the 94 ASCII.
    expect(gpt2.encode('é😀').tokens).toEqual(['Ã', '©', 'ð', 'Ł', 'ĺ', 'Ģ']);
    expect(gpt2.tokenize('é😀')).toEqual([127, 102, 172, 253, 246, 222]);
  });

  it('gives the same ids with merges written as "a b" strings', () => {
    const legacy = new HfTokenizer(gpt2Json({}, { merges: gpt2Merges.map((m) => m.join(' ')) }));
    for (const text of ['Hello there<|endoftext|>on', 'in\n\n the  re', 'é😀']) {
      expect(legacy.tokenize(text)).toEqual(gpt2.tokenize(text));
    }
  });

  it('adds a prefix space to each piece between added tokens when the pre-tokenizer asks', () => {
    const prefixed = new HfTokenizer(
      gpt2Json({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } }),
    );
    expect(prefixed.tokenize('the in')).toEqual([262, 220, 259]);
    expect(prefixed.tokenize('hi<|endoftext|> there')).toEqual([220, 71, 72, 50256, 262, 260]);
  });

  it('accepts ByteLevel inside a Sequence pre-tokenizer', () => {
    const sequence = new HfTokenizer(
      gpt2Json({
        pre_tokenizer: {
          type: 'Sequence',
          pretokenizers: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }],
        },
      }),
    );
    expect(sequence.byteLevel).toBe(true);
    expect(sequence.tokenize('in\n\n the  re')).toEqual(gpt2.tokenize('in\n\n the  re'));
  });

  it('wraps the sequence in <s> ... </s> under RobertaProcessing', () => {
    const roberta = new HfTokenizer(
      gpt2Json({ post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0] } }),
    );
    expect(Array.from(roberta.encode(' the').ids)).toEqual([0, 262, 2]);
    expect(roberta.addedTokenCount).toBe(2);
  });

  it('counts the UTF-8 bytes each token covers; they add up to the text length', () => {
    expect(gpt2.tokenByteLength(262)).toBe(4); // "Ġthe"
    expect(gpt2.tokenByteLength(220)).toBe(1);
    expect(gpt2.tokenByteLength(50256)).toBe(13);
    for (const text of ["Hello world's  test 123!!", 'in\n\n the  re', 'é😀 北京', 'a<|endoftext|>b', '']) {
      const bytes = gpt2.tokenize(text).reduce((sum, id) => sum + gpt2.tokenByteLength(id), 0);
      expect({ text, bytes }).toEqual({ text, bytes: utf8Length(text) });
    }
    expect(() => gpt2.tokenByteLength(1000)).toThrow(RangeError); // a hole in GPT-2's id space here
  });

  it('reports byte-level, the id space and the padding id', () => {
    expect(gpt2).toMatchObject({ byteLevel: true, vocabSize: 50257, padId: 0, fileMaxLength: undefined });
  });

  it('encodes a word of more ids than a call takes arguments (a long run of emoji is one word)', () => {
    expect(gpt2.tokenize('😀'.repeat(50000))).toHaveLength(200000);
  });

  it('refuses a pre-tokenizer without add_prefix_space, as the library does', () => {
    expect(() => new HfTokenizer(gpt2Json({ pre_tokenizer: { type: 'ByteLevel' } }))).toThrow(
      /ByteLevel: add_prefix_space must be a boolean/,
    );
  });

  it('refuses text with a byte the vocabulary lacks when there is no unk_token', () => {
    const vocab = { ...gpt2Json().model.vocab };
    delete vocab.Ã;
    const lacking = new HfTokenizer(gpt2Json({}, { vocab, merges: [] }));
    expect(lacking.tokenize('the')).toEqual([83, 71, 68]);
    expect(() => lacking.tokenize('é')).toThrow(/"Ã" \(U\+00C3\) is not in the vocab/);
  });
});
