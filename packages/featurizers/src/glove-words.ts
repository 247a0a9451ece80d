/**
 * `glove-words`: text -> ids of GloVe vocabulary words, for an EmbeddingBag-style encoder (a table lookup
 * followed by a masked mean), such as the SIF model `glove-sif-100d`.
 *
 * Splitting follows the conventions of the corpus GloVe 6B was trained on (Wikipedia + Gigaword, tokenized
 * by the Stanford PTB tokenizer and lowercased), as far as the vocabulary can still see them:
 * - text is lowercased and typographic apostrophes (’ ‘ ʼ) become `'`;
 * - a word is a run of letters, combining marks and digits, with single internal `'` or `-` joining runs
 *   (`well-known`, `don't`, `o'brien`); everything else (punctuation, symbols, emoji) separates words and is
 *   dropped. The vocabulary does hold punctuation tokens, but SIF gives them almost no weight (they are the
 *   most frequent tokens) and code-like text is full of them, so dropping them is the steadier choice;
 * - clitics are split the PTB way (`don't` -> `do` + `n't`, `we're` -> `we` + `'re`); since the vocabulary
 *   has no apostrophe tokens, a clitic with one clear meaning maps to its full word (`n't` -> `not`,
 *   `'re` -> `are`, `'ve` -> `have`, `'ll` -> `will`, `'m` -> `am`; `can't`/`won't`/`shan't` ->
 *   `can`/`will`/`shall` + `not`), and the ambiguous `'s` and `'d` stay as (out-of-vocabulary) words;
 *   other apostrophes split the word (`o'brien` -> `o` + `brien`);
 * - a hyphenated word is kept whole when the vocabulary has it (`well-known`), else split at its hyphens.
 *
 * Every resulting word counts towards `tokenCount`; words missing from the vocabulary are skipped (the
 * encoder averages over the words it knows, as SIF does), and the first `maxTokens` known words are fed.
 */
import type { EncodedInput, Featurizer, FeedTensor } from './featurizer.js';

/** One input as vocabulary ids (1..V-1; 0 is padding), already cut to `maxTokens`. */
export interface GloveWordsEncoded extends EncodedInput {
  readonly ids: Int32Array;
}

/** Options of a `glove-words` featurizer (the manifest's `preprocessing` block, less the vocabulary file). */
export interface GloveWordsOptions {
  /** Most vocabulary words fed per input; further known words are dropped and `truncated` is set. */
  readonly maxTokens: number;
}

const WORD = /[\p{L}\p{M}\p{N}]+(?:['-][\p{L}\p{M}\p{N}]+)*/gu;
const TYPOGRAPHIC_APOSTROPHES = /[\u2018\u2019\u02bc]/g;
/** Clitics split off the end of a word, with the vocabulary word each stands for (null: keep as is). */
const CLITICS: ReadonlyArray<readonly [suffix: string, word: string | null]> = [
  ["n't", 'not'],
  ["'re", 'are'],
  ["'ve", 'have'],
  ["'ll", 'will'],
  ["'m", 'am'],
  ["'s", null],
  ["'d", null],
];
/** Negated modals whose PTB stem is not the modal itself (`ca n't`, `wo n't`, `sha n't`). */
const NEGATED_MODALS: ReadonlyMap<string, string> = new Map([
  ["can't", 'can'],
  ["won't", 'will'],
  ["shan't", 'shall'],
]);

/**
 * Splits text into GloVe words (see the module comment); `isWord` tells whether the vocabulary has a
 * hyphenated compound, which is then kept whole.
 */
export function gloveWords(text: string, isWord: (word: string) => boolean): string[] {
  const words: string[] = [];
  const normalized = text.toLowerCase().replace(TYPOGRAPHIC_APOSTROPHES, "'");
  for (const match of normalized.matchAll(WORD)) {
    const raw = match[0];
    if (raw.includes("'")) {
      for (const part of splitApostrophes(raw)) pushHyphenated(words, part, isWord);
    } else {
      pushHyphenated(words, raw, isWord);
    }
  }
  return words;
}

function splitApostrophes(raw: string): string[] {
  const modal = NEGATED_MODALS.get(raw);
  if (modal !== undefined) return [modal, 'not'];
  for (const [suffix, word] of CLITICS) {
    if (raw.length > suffix.length && raw.endsWith(suffix)) {
      const stem = raw.slice(0, -suffix.length);
      // The stem may itself hold apostrophes (`rock'n'roll's`): split those as plain separators.
      return [...stem.split("'"), word ?? suffix];
    }
  }
  return raw.split("'");
}

function pushHyphenated(words: string[], word: string, isWord: (word: string) => boolean): void {
  if (!word.includes('-') || isWord(word)) {
    words.push(word);
    return;
  }
  for (const part of word.split('-')) words.push(part);
}

/**
 * Maps text to GloVe vocabulary ids and pads batches into `token_ids` int64 [batch, tokens].
 *
 * The vocabulary file has one word per line; the word on line k (0-based) has id k, and line 0 is the
 * padding entry (conventionally `<pad>`, never produced by the splitter), so real words have ids >= 1.
 */
export class GloveWordsFeaturizer implements Featurizer<GloveWordsEncoded> {
  readonly kind = 'glove-words';
  readonly maxTokens: number;
  /** Number of ids including padding (the encoder's table has this many rows). */
  readonly vocabularySize: number;
  private readonly ids: ReadonlyMap<string, number>;
  private readonly isWord = (word: string): boolean => this.ids.has(word);

  /** `vocab[k]` is the word with id k; `vocab[0]` is the padding entry and never matched. */
  constructor(vocab: readonly string[], options: GloveWordsOptions) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) {
      throw new RangeError(`glove-words: maxTokens must be a positive integer, got ${options.maxTokens}`);
    }
    this.maxTokens = options.maxTokens;
    this.vocabularySize = vocab.length;
    const ids = new Map<string, number>();
    for (let id = 1; id < vocab.length; id++) {
      const word = vocab[id]!;
      if (word !== '' && !ids.has(word)) ids.set(word, id);
    }
    this.ids = ids;
  }

  /** Parses a vocabulary file's text (one word per line, `\n` or `\r\n`; a final newline is optional). */
  static fromVocabText(text: string, options: GloveWordsOptions): GloveWordsFeaturizer {
    const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return new GloveWordsFeaturizer(lines, options);
  }

  /** Id of a word, or undefined when the vocabulary lacks it. */
  idOf(word: string): number | undefined {
    return this.ids.get(word);
  }

  encode(text: string): GloveWordsEncoded {
    const words = gloveWords(text, this.isWord);
    const ids = new Int32Array(Math.min(words.length, this.maxTokens));
    let known = 0;
    for (const word of words) {
      const id = this.ids.get(word);
      if (id === undefined) continue;
      if (known < ids.length) ids[known] = id;
      known++;
    }
    const fedTokens = Math.min(known, this.maxTokens);
    return {
      tokenCount: words.length,
      truncated: known > this.maxTokens,
      fedTokens,
      ids: ids.slice(0, fedTokens),
    };
  }

  /**
   * Pads with id 0 to the longest input of the batch. The tokens axis is at least 1 wide, so a batch of
   * inputs with no known word still forms a valid tensor (the encoder returns a zero vector for them).
   */
  collate(batch: readonly GloveWordsEncoded[]): Record<string, FeedTensor> {
    let width = 1;
    for (const item of batch) width = Math.max(width, item.ids.length);
    const data = new BigInt64Array(batch.length * width);
    batch.forEach((item, row) => {
      const offset = row * width;
      for (let i = 0; i < item.ids.length; i++) data[offset + i] = BigInt(item.ids[i]!);
    });
    return { token_ids: { dtype: 'int64', dims: [batch.length, width], data } };
  }
}
