/**
 * The BPE `model` of a `tokenizer.json` (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
 * Subword Units", §3.1; GPT-2's byte-level variant, Radford et al. 2019, §2.2): each word starts as its
 * characters, and the learned merges are applied by rank until none applies.
 *
 * Merging follows the Rust `tokenizers` `Word::merge_all` step for step, not only in spirit: a queue ordered
 * by (rank, position) holds candidate merges, a popped merge is applied if the pair still stands at its
 * position and still yields the same token, and the pairs it forms with its neighbours are queued. With
 * merges learned in order this equals "merge every occurrence of the best pair, left to right"; with a
 * hand-made list whose new pairs outrank the old it is the library's order that counts.
 *
 * Supported settings: `unk_token`, `fuse_unk`, `ignore_merges`, `byte_fallback` (a character missing from
 * the vocabulary becomes the `<0xHH>` tokens of its UTF-8 bytes, as SentencePiece-style vocabularies such as
 * Llama 2's and Mistral's spell it); `dropout` null or 0; `continuing_subword_prefix` and
 * `end_of_word_suffix` empty or null. Others are refused, as are merges that
 * name tokens missing from the vocabulary (the library refuses those files too).
 */
import type { TokenizerModel } from './hf-models.js';
import { asArray, HfTokenizerError, type Json, readVocab } from './hf-tokenizer-json.js';

const utf8 = new TextEncoder();

/** The vocabulary token byte_fallback spells a byte with: `<0x0A>` (two upper-case hex digits). */
export function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** One learned merge: its rank (position in the file, later duplicates win) and the token it makes. */
interface Merge {
  readonly rank: number;
  readonly newId: number;
}

// Pairs of ids are keyed as `left * idBound + right`, which stays an exact double while idBound <= 2^26.
const MAX_ID_BOUND = 2 ** 26;
// Like WordPiece's: bounded, since a long-running service sees open vocabularies. Longer words are not kept,
// so the cache's keys stay small.
const CACHE_WORDS = 65536;
const MAX_CACHED_CHARS = 256;

/** Byte-pair encoding with the library's merge order and unknown-symbol handling. */
export class BPE implements TokenizerModel {
  readonly vocab: ReadonlyMap<string, number>;
  private readonly merges = new Map<number, Merge>();
  private readonly idBound: number;
  private readonly cache = new Map<string, readonly number[]>();

  /**
   * @param merges in rank order: the two tokens, and the entry's index in the file's list (for messages)
   * @throws HfTokenizerError naming the first merge whose tokens or result are not in the vocabulary
   */
  constructor(
    vocab: Map<string, number>,
    merges: readonly (readonly [string, string, number])[],
    readonly unkToken: string | null,
    readonly fuseUnk: boolean,
    readonly ignoreMerges: boolean,
    readonly byteFallback = false,
  ) {
    this.vocab = vocab;
    let bound = 1;
    for (const id of vocab.values()) bound = Math.max(bound, id + 1);
    if (bound > MAX_ID_BOUND) {
      throw new HfTokenizerError('unsupported', `model BPE: ids above ${MAX_ID_BOUND - 1} are not supported`);
    }
    this.idBound = bound;
    for (let rank = 0; rank < merges.length; rank++) {
      const [left, right, index] = merges[rank]!;
      const ids = [left, right, left + right].map((token) => {
        const id = vocab.get(token);
        if (id === undefined) {
          throw new HfTokenizerError(
            'invalid',
            `model.merges[${index}] ${JSON.stringify([left, right])}: ${JSON.stringify(token)} is not in the vocab`,
          );
        }
        return id;
      });
      this.merges.set(ids[0]! * bound + ids[1]!, { rank, newId: ids[2]! });
    }
  }

  /** Ids of one pre-tokenized word. @throws HfTokenizerError when a character has no id and no unk_token stands in */
  tokenize(word: string): readonly number[] {
    if (word === '') return [];
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = this.mergeAll(this.symbols(word));
    if (word.length <= MAX_CACHED_CHARS) {
      if (this.cache.size >= CACHE_WORDS) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /**
   * The word's characters as ids, as the library's `merge_word` builds them: a character missing from the
   * vocabulary becomes its `<0xHH>` byte tokens (with byte_fallback, when all of them exist), else unk_token,
   * fused with an unknown neighbour if asked. A pending unknown is emitted when the next known character
   * comes or the word ends, so byte tokens in between come first, as in the library.
   */
  private symbols(word: string): number[] {
    const ids: number[] = [];
    let unknown = false;
    const flush = () => {
      if (unknown) ids.push(this.unkId(word));
      unknown = false;
    };
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        flush();
        ids.push(id);
        continue;
      }
      const bytes = this.byteFallback ? this.byteTokens(ch) : undefined;
      if (bytes) {
        ids.push(...bytes);
        continue;
      }
      // The library silently drops such a character (and may then merge its neighbours); a byte-level
      // vocabulary lacking one of its 256 characters is a broken file, refused here rather than miscounted.
      if (this.unkToken === null) {
        const codePoint = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
        throw new HfTokenizerError(
          'invalid',
          `model BPE: ${JSON.stringify(ch)} (${codePoint}) is not in the vocab and there is no unk_token`,
        );
      }
      if (!this.fuseUnk) flush();
      unknown = true;
    }
    flush();
    return ids;
  }

  private unkId(word: string): number {
    const unkId = this.vocab.get(this.unkToken ?? '');
    if (unkId === undefined) {
      throw new HfTokenizerError(
        'invalid',
        `model BPE: unk_token ${JSON.stringify(this.unkToken)} is not in the vocab (needed for ${JSON.stringify(word)})`,
      );
    }
    return unkId;
  }

  /** Ids of the `<0xHH>` tokens of the character's UTF-8 bytes, or undefined when one is missing. */
  private byteTokens(ch: string): number[] | undefined {
    const ids: number[] = [];
    for (const byte of utf8.encode(ch)) {
      const id = this.vocab.get(byteToken(byte));
      if (id === undefined) return undefined;
      ids.push(id);
    }
    return ids;
  }

  /** `Word::merge_all` without dropout: symbols in a linked list, candidate merges in a (rank, position) heap. */
  private mergeAll(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2) return ids;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const removed = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = new MergeQueue(n);
    for (let i = 0; i + 1 < n; i++) this.enqueue(queue, ids, i, i + 1);
    while (queue.size > 0) {
      const { pos, newId } = queue.pop();
      const right = next[pos]!;
      if (removed[pos] || right === -1) continue;
      // A stale entry: the pair at `pos` changed since it was queued.
      if (this.merges.get(ids[pos]! * this.idBound + ids[right]!)?.newId !== newId) continue;
      ids[pos] = newId;
      removed[right] = 1;
      next[pos] = next[right]!;
      if (next[pos] !== -1) prev[next[pos]!] = pos;
      if (prev[pos] !== -1) this.enqueue(queue, ids, prev[pos]!, pos);
      if (next[pos] !== -1) this.enqueue(queue, ids, pos, next[pos]!);
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (!removed[i]) out.push(ids[i]!);
    return out;
  }

  private enqueue(queue: MergeQueue, ids: readonly number[], left: number, right: number): void {
    const merge = this.merges.get(ids[left]! * this.idBound + ids[right]!);
    if (merge) queue.push(merge.rank, left, merge.newId);
  }
}

/** A binary min-heap of candidate merges ordered by rank, then by position (leftmost first). */
class MergeQueue {
  private readonly keys: number[] = [];
  private readonly positions: number[] = [];
  private readonly newIds: number[] = [];

  /** @param wordLength positions are below it, so `rank * wordLength + pos` orders by rank, then position */
  constructor(private readonly wordLength: number) {}

  get size(): number {
    return this.keys.length;
  }

  push(rank: number, pos: number, newId: number): void {
    let i = this.keys.length;
    const key = rank * this.wordLength + pos;
    this.keys.push(key);
    this.positions.push(pos);
    this.newIds.push(newId);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! <= key) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, key, pos, newId);
  }

  pop(): { pos: number; newId: number } {
    const top = { pos: this.positions[0]!, newId: this.newIds[0]! };
    const key = this.keys.pop()!;
    const pos = this.positions.pop()!;
    const newId = this.newIds.pop()!;
    const size = this.keys.length;
    if (size === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && this.keys[child + 1]! < this.keys[child]!) child++;
      if (this.keys[child]! >= key) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, key, pos, newId);
    return top;
  }

  private move(from: number, to: number): void {
    this.set(to, this.keys[from]!, this.positions[from]!, this.newIds[from]!);
  }

  private set(i: number, key: number, pos: number, newId: number): void {
    this.keys[i] = key;
    this.positions[i] = pos;
    this.newIds[i] = newId;
  }
}

/**
 * The BPE model a `model` entry of type BPE describes, merges in either of the library's formats: "a b"
 * strings (a leading "#version" line skipped, as the library does) or ["a", "b"] pairs (tokenizers >= 0.20).
 * @throws HfTokenizerError for a malformed entry or a setting this implementation does not follow
 */
export function buildBpe(c: Json): BPE {
  if (c.dropout !== null && c.dropout !== undefined && c.dropout !== 0) {
    throw new HfTokenizerError(
      'unsupported',
      `model BPE: dropout ${JSON.stringify(c.dropout)} is not supported (only null or 0)`,
    );
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    if (c[key] !== null && c[key] !== undefined && c[key] !== '') {
      throw new HfTokenizerError(
        'unsupported',
        `model BPE: ${key} ${JSON.stringify(c[key])} is not supported (only empty)`,
      );
    }
  }
  if (c.unk_token !== null && c.unk_token !== undefined && typeof c.unk_token !== 'string') {
    throw new HfTokenizerError('invalid', 'model BPE: unk_token must be a string or null');
  }
  const vocab = readVocab(c.vocab, 'model.vocab');
  const merges: [string, string, number][] = [];
  asArray(c.merges, 'model.merges').forEach((entry, index) => {
    if (typeof entry === 'string') {
      if (entry.startsWith('#version')) return;
      const parts = entry.split(' ');
      if (parts.length !== 2) {
        throw new HfTokenizerError(
          'invalid',
          `model.merges[${index}] ${JSON.stringify(entry)} is not two tokens and one space`,
        );
      }
      merges.push([parts[0]!, parts[1]!, index]);
    } else if (Array.isArray(entry) && entry.length === 2 && entry.every((part) => typeof part === 'string')) {
      merges.push([entry[0] as string, entry[1] as string, index]);
    } else {
      throw new HfTokenizerError('invalid', `model.merges[${index}] must be "a b" or ["a", "b"]`);
    }
  });
  const unkToken = typeof c.unk_token === 'string' ? c.unk_token : null;
  return new BPE(vocab, merges, unkToken, c.fuse_unk === true, c.ignore_merges === true, c.byte_fallback === true);
}
