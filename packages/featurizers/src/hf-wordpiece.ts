/**
 * The WordPiece `model` of a `tokenizer.json` (the BERT family), which turns each pre-tokenized word into
 * vocabulary ids by greedy longest match.
 */
import type { TokenizerModel } from './hf-models.js';
import { HfTokenizerError, type Json, readVocab } from './hf-tokenizer-json.js';

/** Greedy longest-match-first WordPiece (Wu et al. 2016, §4.1; BERT's `WordpieceTokenizer`). */
export class WordPiece implements TokenizerModel {
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkId: number;
  /** Characters of the longest vocabulary entry: no longer candidate can match, so none is built. */
  private readonly longestPiece: number;
  private readonly cache = new Map<string, readonly number[]>();

  constructor(
    vocab: Map<string, number>,
    readonly unkToken: string,
    readonly prefix: string,
    readonly maxCharsPerWord: number,
  ) {
    const unkId = vocab.get(unkToken);
    if (unkId === undefined) {
      throw new HfTokenizerError(
        'invalid',
        `model WordPiece: unk_token ${JSON.stringify(unkToken)} is not in the vocab`,
      );
    }
    this.vocab = vocab;
    this.unkId = unkId;
    let longest = 1;
    for (const entry of vocab.keys()) longest = Math.max(longest, Array.from(entry).length);
    this.longestPiece = longest;
  }

  /** Ids of one pre-tokenized word: its pieces, or the unknown token alone if any part has no piece. */
  tokenize(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const chars = Array.from(word);
    let ids: number[] = [];
    if (chars.length > this.maxCharsPerWord) {
      ids = [this.unkId];
    } else {
      for (let start = 0; start < chars.length; ) {
        let found: number | undefined;
        // Longest match first, from the longest candidate that could be in the vocabulary: trying every
        // length up to the word's end made a 100-character word cost ~5,000 string builds.
        let end = Math.min(chars.length, start + this.longestPiece);
        for (; end > start; end--) {
          const piece = chars.slice(start, end).join('');
          found = this.vocab.get(start === 0 ? piece : this.prefix + piece);
          if (found !== undefined) break;
        }
        if (found === undefined) {
          ids = [this.unkId];
          break;
        }
        ids.push(found);
        start = end;
      }
    }
    // Bounded: a long-running service sees open vocabularies. A word too long for any piece is not kept (its
    // answer is cheap, and 65,536 such words could hold gigabytes of keys).
    if (chars.length > this.maxCharsPerWord) return ids;
    if (this.cache.size >= 65536) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }
}

/** The WordPiece model a `model` entry of type WordPiece describes. @throws HfTokenizerError */
export function buildWordPiece(c: Json): WordPiece {
  return new WordPiece(
    readVocab(c.vocab, 'model.vocab'),
    typeof c.unk_token === 'string' ? c.unk_token : '[UNK]',
    typeof c.continuing_subword_prefix === 'string' ? c.continuing_subword_prefix : '##',
    typeof c.max_input_chars_per_word === 'number' ? c.max_input_chars_per_word : 100,
  );
}
