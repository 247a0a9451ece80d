import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { byteToken } from './hf-bpe.js';
import { BYTE_CHARS } from './hf-byte-level.js';
import { oniguramaToRegExp } from './hf-oniguruma.js';
import { HfTokenizer } from './hf-tokenizer.js';

/**
 * Tokenizer layouts of today's decoders, checked against the reference library (npm `tokenizers`, the Rust
 * implementation): bpe-gpt's byte-level vocabulary and merges under Llama 3's and Qwen2's Split
 * pre-tokenization, and respelt as a SentencePiece-style vocabulary (Llama 2, Mistral). For every text the
 * ids must agree.
 */
const bpeGpt = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../models/bpe-gpt/1/tokenizer.json', import.meta.url)), 'utf8'),
);
const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

/** Our ids for each text, next to the library's for the same tokenizer.json. */
async function expectLibraryIds(json: Record<string, unknown>, texts: readonly string[]): Promise<HfTokenizer> {
  const ours = new HfTokenizer(json);
  const reference = Tokenizer.fromString(JSON.stringify(json));
  for (const text of texts) {
    const expected = (await reference.encode(text, null, { addSpecialTokens: false })).getIds();
    expect({ text, ids: ours.tokenize(text) }).toEqual({ text, ids: expected });
  }
  return ours;
}

// ---------------------------------------------------------------- Split (Llama 3, Qwen2)
const LLAMA3 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
const split = (pattern: Record<string, string>, behavior = 'Isolated', invert = false) => ({
  type: 'Split',
  pattern,
  behavior,
  invert,
});

const splitVariants: Record<string, Record<string, unknown>> = {
  'Llama 3': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: LLAMA3 }), byteLevel] },
    model: { ...bpeGpt.model, ignore_merges: true },
  },
  Qwen2: {
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: QWEN2 }), byteLevel] },
  },
  'string pattern, merged with next': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ String: ' ' }, 'MergedWithNext'), byteLevel] },
  },
  'inverted regex, removed': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: '\\p{L}+|\\d+' }, 'Removed', true), byteLevel] },
  },
  'regex, merged with previous': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: '[.,;!?]+' }, 'MergedWithPrevious'), byteLevel] },
  },
};

const splitTexts = [
  'The quick brown fox jumps over the lazy dog.',
  "DON'T you're WE'LL they'VE I'm it's",
  'Numbers: 1234567 and 3.14159, 2026-11-27; 00042!',
  '  multiple   spaces\n\n\tand tabs\r\nand CRLF lines   \n',
  'naïve café, 東京, Ünïcödé — “quotes” and emoji 🙂👍🏽',
  'NEL\u0085between, NBSP\u00a0here, ideographic\u3000space',
  'x = [i**2 for i in range(10)]  # comment\n    return {"a": 1}',
  'e\u0301 (decomposed é) and Å vs \u212b',
  readme.slice(0, 4000),
];

describe('the Split pre-tokenizer against the reference library', () => {
  for (const [name, overrides] of Object.entries(splitVariants)) {
    it(`${name}: the same ids as tokenizers for every text`, async () => {
      await expectLibraryIds({ ...bpeGpt, ...overrides }, splitTexts);
    });
  }
});

describe('post-processor Sequence (Llama 3: ByteLevel, then a template) against the reference library', () => {
  const template = (token: string, id: number, typeId: number, at: 'before' | 'after') => ({
    type: 'TemplateProcessing',
    single: [
      ...(at === 'before' ? [{ SpecialToken: { id: token, type_id: typeId } }] : []),
      { Sequence: { id: 'A', type_id: typeId } },
      ...(at === 'after' ? [{ SpecialToken: { id: token, type_id: typeId } }] : []),
    ],
    pair: [
      { SpecialToken: { id: token, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [token]: { id: token, ids: [id], tokens: [token] } },
  });
  const byteLevelPost = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  const eot = bpeGpt.added_tokens[0].id as number;
  const variants: Record<string, unknown> = {
    'ByteLevel then <|endoftext|> $A (as Llama 3 begins every text)': {
      type: 'Sequence',
      processors: [byteLevelPost, template('<|endoftext|>', eot, 0, 'before')],
    },
    'a template with type id 1, then ByteLevel': {
      type: 'Sequence',
      processors: [template('<|endoftext|>', eot, 1, 'after'), byteLevelPost],
    },
  };
  for (const [name, post] of Object.entries(variants)) {
    it(`${name}: the same ids and type ids as tokenizers`, async () => {
      const json = { ...bpeGpt, post_processor: post };
      const ours = new HfTokenizer(json);
      const reference = Tokenizer.fromString(JSON.stringify(json));
      for (const text of ['Hello world', splitTexts[4]!, '']) {
        const expected = await reference.encode(text, null, { addSpecialTokens: true });
        const got = ours.encode(text);
        expect({ ids: Array.from(got.ids), types: Array.from(got.typeIds) }).toEqual({
          ids: expected.getIds(),
          types: expected.getTypeIds(),
        });
      }
    });
  }

  it('refuses two processors that add tokens, naming the count', () => {
    const post = {
      type: 'Sequence',
      processors: [template('<|endoftext|>', eot, 0, 'before'), template('<|endoftext|>', eot, 0, 'after')],
    };
    expect(() => new HfTokenizer({ ...bpeGpt, post_processor: post })).toThrow(
      /post_processor Sequence: 2 processors that add tokens; one \(beside ByteLevel\) is supported/,
    );
  });
});

describe('Oniguruma patterns as JavaScript regular expressions', () => {
  it('spells case-insensitive groups, Unicode classes and scripts for RegExp', () => {
    expect(oniguramaToRegExp("(?i:'s|'re)").source).toBe("(?:'[sS]|'[rR][eE])");
    expect(oniguramaToRegExp('\\s+(?!\\S)').source).toBe('\\p{White_Space}+(?!\\P{White_Space})');
    expect(oniguramaToRegExp('[^\\s\\p{L}]').source).toBe('[^\\p{White_Space}\\p{L}]');
    expect(oniguramaToRegExp('\\p{Han}+').source).toBe('\\p{Script=Han}+');
    expect(oniguramaToRegExp('\\d').test('٣')).toBe(true); // Arabic-Indic three: Unicode Nd, as in Oniguruma
  });

  it('refuses what RegExp cannot express, naming it', () => {
    expect(() => oniguramaToRegExp('(?>a|ab)c')).toThrow(/uses the group \(\?>a\|…, which is not supported/);
    expect(() => oniguramaToRegExp('a++')).toThrow(/possessive quantifier/);
    expect(() => oniguramaToRegExp('\\Aabc')).toThrow(/the escape \\A/);
    expect(() => oniguramaToRegExp('\\p{NoSuchThing}')).toThrow(/the Unicode property NoSuchThing/);
  });
});

// ---------------------------------------------------------------- SentencePiece style (Llama 2, Mistral)

/** bpe-gpt's vocabulary respelt as text with "▁" for spaces; tokens that are not whole characters go. */
function sentencePieceModel(): Record<string, unknown> {
  const byteOf = new Map(BYTE_CHARS.map((ch, b) => [ch, b]));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const respell = (token: string): string | undefined => {
    const bytes = [...token].map((ch) => byteOf.get(ch));
    if (bytes.some((b) => b === undefined)) return undefined;
    try {
      return decoder.decode(Uint8Array.from(bytes as number[])).replaceAll(' ', '▁');
    } catch {
      return undefined;
    }
  };
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[byteToken(b)] = 3 + b;
  const byId = Object.entries(bpeGpt.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]);
  for (const [token] of byId) {
    const text = respell(token);
    if (text !== undefined && !(text in vocab)) vocab[text] = Object.keys(vocab).length;
  }
  const merges: [string, string][] = [];
  for (const merge of bpeGpt.model.merges as ([string, string] | string)[]) {
    const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
    const left = respell(a ?? '');
    const right = respell(b ?? '');
    if (left !== undefined && right !== undefined && `${left}${right}` in vocab) merges.push([left, right]);
  }
  return {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    ignore_merges: false,
    vocab,
    merges,
  };
}

const special = (content: string, id: number) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});
const base = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special('<unk>', 0), special('<s>', 1), special('</s>', 2)],
  post_processor: null,
  decoder: null,
  model: sentencePieceModel(),
};
const pieceVariants: Record<string, Record<string, unknown>> = {
  'Llama 2 (Prepend + Replace normalizer)': {
    ...base,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
  },
  'Metaspace, prepend first, no split': {
    ...base,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
  },
  'Metaspace, prepend always, split': {
    ...base,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  },
};

const pieceTexts = [
  'The quick brown fox jumps over the lazy dog.',
  '  two leading spaces, and   three inside',
  'naïve café, 東京 🙂 — bytes the vocabulary lacks fall back to <0x..> tokens',
  '<s>after a special token</s> and between <s> them',
  'tabs\tand\nnewlines\r\n',
  readme.slice(0, 3000),
];

describe('SentencePiece-style BPE files against the reference library', () => {
  for (const [name, json] of Object.entries(pieceVariants)) {
    it(`${name}: the same ids as tokenizers, and every byte counted`, async () => {
      const ours = await expectLibraryIds(json, pieceTexts);
      expect(ours.wordMarker).toBe('▁');
      for (const text of pieceTexts) {
        const ids = ours.tokenize(text);
        // Bytes per token add up to the text's bytes, plus at most one marker prepended to each piece (the
        // text's start, and the text after each special token <s>, </s> (ids 1 and 2) where the scheme says).
        const counted = ids.reduce((n, id) => n + ours.tokenByteLength(id), 0);
        const pieces = 1 + ids.filter((id) => id === 1 || id === 2).length;
        expect(counted - Buffer.byteLength(text)).toBeGreaterThanOrEqual(0);
        expect(counted - Buffer.byteLength(text)).toBeLessThanOrEqual(pieces);
      }
      // A character the vocabulary lacks is spelt by its UTF-8 bytes.
      const emoji = ours.tokenize('🙂');
      expect(emoji.slice(-4)).toEqual([0xf0, 0x9f, 0x99, 0x82].map((b) => 3 + b));
    });
  }
});

// ---------------------------------------------------------------- SentencePiece Unigram (T5, XLM-R)

/**
 * mini-xlmr-encoder's tokenizer, trained by models/recipes/unigram_tokenizer.py and converted as `transformers`
 * converts XLM-R's: Precompiled nmt_nfkc charsmap, Replace normalizers (one a regex), Metaspace, byte fallback.
 * Without its truncation: some texts here are longer than the model's 128 tokens.
 */
const unigram = {
  ...JSON.parse(
    readFileSync(fileURLToPath(new URL('../../../models/mini-xlmr-encoder/1/tokenizer.json', import.meta.url)), 'utf8'),
  ),
  truncation: null,
};

const unigramTexts = [
  ...pieceTexts,
  "``quoted'' text,   runs of    spaces",
  'ﬁne ligatures, ① circled, Ｆｕｌｌ-width, x² ½ ㎏ ㈱ ﾊﾟ ｶﾞ (half-width kana)',
  'line\r\nbreak\rcarriage\ttab\u00a0nbsp\u3000ideographic\u2028separator',
  'Ångström: Å and \u212b; e\u0301 a\u0308\u0301\u0323 z̴̡͈̝̈́ (combining marks, one grapheme each)',
  '👍🏽 👨‍👩‍👧 🇫🇷🇩🇪 (emoji sequences), Ελληνικά русский العربية हिन्दी 한국어',
  '\u200bzero\u200dwidth \ufeffbom \u0000nul \u0085nel \u00adsoft-hyphen',
];

/** Seeded random texts over scripts, symbols, compatibility forms, combining marks and controls. */
function unicodeSoup(count: number, seed: number): string[] {
  const blocks = [
    [0x20, 0x7e],
    [0x80, 0x24f],
    [0x300, 0x36f],
    [0x370, 0x4ff],
    [0x590, 0x6ff],
    [0x900, 0x97f],
    [0x1100, 0x11ff],
    [0x2000, 0x22ff],
    [0x2460, 0x24ff],
    [0x3000, 0x33ff],
    [0x4e00, 0x4eff],
    [0xac00, 0xacff],
    [0xf900, 0xfaff],
    [0xfb00, 0xfb4f],
    [0xfe00, 0xfe6f],
    [0xff00, 0xffef],
    [0x1d400, 0x1d7ff],
    [0x1f1e6, 0x1f6ff],
    [0x0, 0x1f],
  ] as const;
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, () => {
    let text = '';
    for (let n = 1 + Math.floor(random() * 30); n > 0; n--) {
      const [lo, hi] = blocks[Math.floor(random() * blocks.length)]!;
      text += random() < 0.3 ? ' ' : String.fromCodePoint(lo + Math.floor(random() * (hi - lo + 1)));
    }
    return text;
  });
}

describe('SentencePiece Unigram files against the reference library', () => {
  it('XLM-R layout (Precompiled nmt_nfkc, Metaspace, byte fallback): the same ids as tokenizers', async () => {
    const ours = await expectLibraryIds(unigram, [...unigramTexts, ...unicodeSoup(1500, 7)]);
    expect(ours.wordMarker).toBe('▁');
    // Bytes per token add up to the normalized text's bytes plus the marker prepended to it; text that
    // nmt_nfkc leaves as it is (composed é included) counts its own bytes.
    for (const text of ['The quick brown fox jumps over the lazy dog.', 'naïve café, 東京 🙂, e\u0301']) {
      const counted = ours.tokenize(text).reduce((n, id) => n + ours.tokenByteLength(id), 0);
      expect(counted).toBe(Buffer.byteLength(text.normalize('NFC')) + 1);
    }
    // With the template: <s> ... </s>, and <pad> as the padding id.
    const encoded = ours.encode('Hello');
    expect([encoded.ids[0], encoded.ids.at(-1)]).toEqual([0, 2]);
    expect(ours.padId).toBe(1);
  });

  it('without byte fallback: unknown runs fused into one <unk>, as tokenizers does', async () => {
    const ours = await expectLibraryIds({ ...unigram, model: { ...unigram.model, byte_fallback: false } }, [
      ...unigramTexts,
      ...unicodeSoup(500, 11),
    ]);
    expect(ours.tokenize('東京')).toEqual([267, 3]); // "▁" and one <unk>
  });

  it('the hand-made model of hf-unigram.test.ts splits as tokenizers does (ties and unknowns included)', async () => {
    const tiny = {
      model: {
        type: 'Unigram',
        unk_id: 0,
        byte_fallback: true,
        vocab: [
          ['<unk>', 0],
          ['a', -1],
          ['b', -1],
          ['c', -3],
          ['ab', -1.5],
          ['bc', -5],
          ['abc', -4.5],
          ['<0xC3>', -8],
          ['<0xA9>', -8],
        ],
      },
    };
    await expectLibraryIds(tiny, ['ab', 'bc', 'abab', 'abc', 'aééb', 'éa', 'üb', 'cbacba']);
  });
});

describe('the Nmt normalizer and the WordLevel model against the reference library', () => {
  it("Nmt, NFKC and Replace, as tokenizers' own SentencePieceUnigramTokenizer normalizes", async () => {
    const normalizer = {
      type: 'Sequence',
      normalizers: [{ type: 'Nmt' }, { type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
    };
    const controls = Array.from({ length: 0xa0 }, (_, c) => String.fromCodePoint(c)).join('x');
    const marks = '\u1680 \u200b\u200c\u200d\u200e\u200f \u2028\u2029 \u2581 \ufeff \ufffd';
    await expectLibraryIds({ ...unigram, normalizer }, [controls, marks, ...unigramTexts, ...unicodeSoup(300, 5)]);
  });

  it('WordLevel: one id per word, unk_token for the rest', async () => {
    const words = [...new Set(readme.slice(0, 20000).split(/[^\p{L}\p{N}]+/u))].filter(Boolean).slice(0, 500);
    const vocab = Object.fromEntries(['[UNK]', ...words].map((w, i) => [w, i]));
    const json = {
      model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
      pre_tokenizer: { type: 'Whitespace' },
    };
    const ours = await expectLibraryIds(json, [readme.slice(0, 3000), readme.slice(30000, 33000), 'zzzz unknownword']);
    expect(ours.tokenize('zzzz')).toEqual([0]);
    const noUnk = new HfTokenizer({ ...json, model: { type: 'WordLevel', vocab: { a: 0 } } });
    expect(() => noUnk.tokenize('b')).toThrow(/"b" is not in the vocab and unk_token null is not either/);
  });
});
