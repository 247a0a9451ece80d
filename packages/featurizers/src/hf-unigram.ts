/**
 * The Unigram `model` of a `tokenizer.json` (Kudo 2018, "Subword Regularization", §2; SentencePiece's default,
 * the model of T5, XLM-R and the multilingual sentence encoders built on it): every piece has a log
 * probability, and a word is split into the pieces whose scores sum highest (Viterbi over the word).
 *
 * The search follows the Rust `tokenizers` `Unigram::encode_optimized` so that ties and unknown characters
 * come out as the library's: start positions left to right, at each the matching pieces shortest first, a
 * candidate replacing the best path to its end only when strictly better. A character no piece starts with
 * becomes an unknown node scored `min(score) - 10`; runs of unknown nodes are fused into one unknown piece,
 * which with `byte_fallback` becomes the `<0xHH>` tokens of its UTF-8 bytes (when all exist), else `unk_id`.
 */
import { byteToken } from './hf-bpe.js';
import type { TokenizerModel } from './hf-models.js';
import { asArray, HfTokenizerError, type Json } from './hf-tokenizer-json.js';

const utf8 = new TextEncoder();
/** SentencePiece's penalty for an unknown character, below the least likely piece (`kUnkPenalty`). */
const UNKNOWN_PENALTY = 10;
// As BPE's: bounded, and long words are not kept.
const CACHE_WORDS = 65536;
const MAX_CACHED_CHARS = 256;

/** Unigram language-model segmentation with the library's search order and unknown handling. */
export class Unigram implements TokenizerModel {
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkToken: string | null;
  private readonly scores: Float64Array;
  private readonly unknownScore: number;
  /** Code units of the longest piece: no longer substring can match. */
  private readonly longestPiece: number;
  private readonly cache = new Map<string, readonly number[]>();

  /**
   * @param pieces the vocabulary in id order: piece and log probability
   * @throws HfTokenizerError for an empty vocabulary or an unk_id outside it
   */
  constructor(
    pieces: readonly (readonly [string, number])[],
    readonly unkId: number | null,
    readonly byteFallback: boolean,
  ) {
    if (pieces.length === 0) throw new HfTokenizerError('invalid', 'model Unigram: the vocab is empty');
    if (unkId !== null && unkId >= pieces.length) {
      throw new HfTokenizerError('invalid', `model Unigram: unk_id ${unkId} is outside the vocab of ${pieces.length}`);
    }
    const vocab = new Map<string, number>();
    this.scores = new Float64Array(pieces.length);
    let minScore = Number.POSITIVE_INFINITY;
    let longest = 1;
    pieces.forEach(([piece, score], id) => {
      vocab.set(piece, id);
      this.scores[id] = score;
      minScore = Math.min(minScore, score);
      longest = Math.max(longest, piece.length);
    });
    this.vocab = vocab;
    this.unkToken = unkId === null ? null : pieces[unkId]![0];
    this.unknownScore = minScore - UNKNOWN_PENALTY;
    this.longestPiece = longest;
  }

  /** Ids of one pre-tokenized word. @throws HfTokenizerError when a character has no piece and no unk_id stands in */
  tokenize(word: string): readonly number[] {
    if (word === '') return [];
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids: number[] = [];
    for (const piece of this.segment(word)) {
      const id = this.vocab.get(piece);
      if (id !== undefined) ids.push(id);
      // No spread: a long unknown run (a page of text in a script the vocabulary lacks) is many byte tokens.
      else for (const unknown of this.unknownIds(piece)) ids.push(unknown);
    }
    if (word.length <= MAX_CACHED_CHARS) {
      if (this.cache.size >= CACHE_WORDS) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /**
   * The best segmentation as strings, unknown runs fused. Positions are UTF-16 indices that only ever fall
   * on code point boundaries, as the library's byte positions fall on character boundaries.
   */
  private segment(word: string): string[] {
    const n = word.length;
    const bestScore = new Float64Array(n + 1);
    const startOf = new Int32Array(n + 1).fill(-1);
    const idOf = new Int32Array(n + 1);
    startOf[0] = 0;
    for (let start = 0; start < n; ) {
      const charLength = word.codePointAt(start)! > 0xffff ? 2 : 1;
      const scoreHere = bestScore[start]!;
      let coversChar = false;
      const last = Math.min(n, start + this.longestPiece);
      for (let end = start + 1; end <= last; end++) {
        const id = this.vocab.get(word.slice(start, end));
        if (id === undefined) continue;
        const candidate = scoreHere + this.scores[id]!;
        if (startOf[end] === -1 || candidate > bestScore[end]!) {
          bestScore[end] = candidate;
          startOf[end] = start;
          idOf[end] = id;
        }
        if (end - start === charLength) coversChar = true;
      }
      if (!coversChar) {
        const end = start + charLength;
        const candidate = scoreHere + this.unknownScore;
        if (startOf[end] === -1 || candidate > bestScore[end]!) {
          if (this.unkId === null) {
            throw new HfTokenizerError(
              'invalid',
              `model Unigram: no piece starts with ${JSON.stringify(word.slice(start, end))} in ${JSON.stringify(word)} and the model has no unk_id`,
            );
          }
          bestScore[end] = candidate;
          startOf[end] = start;
          idOf[end] = this.unkId;
        }
      }
      start += charLength;
    }
    // Walking back from the end, a run of unknown nodes is fused into one piece. As in the library, a node is
    // unknown by its id, so a literal unk piece in the text joins the run.
    const pieces: string[] = [];
    let unknownEnd = -1;
    for (let end = n; end > 0; ) {
      const start = startOf[end]!;
      if (idOf[end] === this.unkId) {
        if (unknownEnd === -1) unknownEnd = end;
      } else {
        if (unknownEnd !== -1) pieces.push(word.slice(end, unknownEnd));
        unknownEnd = -1;
        pieces.push(word.slice(start, end));
      }
      end = start;
    }
    if (unknownEnd !== -1) pieces.push(word.slice(0, unknownEnd));
    return pieces.reverse();
  }

  /** A fused unknown piece (only made when there is an unk_id): its `<0xHH>` byte tokens with byte_fallback when all exist, else unk_id. */
  private unknownIds(piece: string): number[] {
    if (this.byteFallback) {
      const ids = Array.from(utf8.encode(piece), (byte) => this.vocab.get(byteToken(byte)));
      if (ids.every((id) => id !== undefined)) return ids as number[];
    }
    return [this.unkId!];
  }
}

/** The Unigram model of a file's `model` entry. @throws HfTokenizerError */
export function buildUnigram(c: Json): Unigram {
  const pieces = asArray(c.vocab, 'model Unigram.vocab').map((entry, i) => {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      typeof entry[0] !== 'string' ||
      typeof entry[1] !== 'number' ||
      !Number.isFinite(entry[1])
    ) {
      throw new HfTokenizerError('invalid', `model Unigram.vocab[${i}] must be [piece, score] with a finite score`);
    }
    return [entry[0], entry[1]] as const;
  });
  const unkId = c.unk_id ?? null;
  if (unkId !== null && (typeof unkId !== 'number' || !Number.isInteger(unkId) || unkId < 0)) {
    throw new HfTokenizerError('invalid', 'model Unigram.unk_id must be a non-negative integer or null');
  }
  return new Unigram(pieces, unkId as number | null, c.byte_fallback === true);
}
