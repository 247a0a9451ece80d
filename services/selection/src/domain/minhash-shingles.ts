import { checkInteger, checkOneOf } from './parameter-checks.js';
import { normalizeText, noTextNormalization, type TextNormalization } from './text-normalization.js';

/**
 * Shingling for MinHash (Broder 1997, "On the resemblance and containment of documents"): a document is the
 * set of hashes of its shingles, n consecutive words or code points of its normalised text, and the
 * similarity of two documents is the Jaccard similarity of those sets. The signatures (`minhash-signatures.ts`)
 * are computed from these hashes, and the LSH band keys (`lsh-banding.ts`) reuse the murmur3 mixing.
 *
 * Hash functions, and why:
 * - Words are hashed with 32-bit FNV-1a over their UTF-16 code units, a shingle (n consecutive words or
 *   code points) with a murmur3-style mix of its n tokens; two distinct shingles collide with probability
 *   about 2⁻³².
 * - Separators are classified lazily, once per UTF-16 code unit, into a 64 KB table, and the token and
 *   shingle buffers of {@link ShingleScratch} are reused from one document to the next.
 */

/** Unit of a shingle: words (split on Unicode whitespace and punctuation) or code points. */
export type ShingleUnit = 'word' | 'character';
export const shingleUnits: readonly ShingleUnit[] = ['word', 'character'];
export const defaultNgramSize = 5;

/** What decides a document's shingles and signature; shared by every MinHash entry point. */
export interface MinHashOptions {
  /** Applied before shingling; default none. */
  normalization?: TextNormalization;
  /** Default `word`. */
  shingleUnit?: ShingleUnit;
  /** Units per shingle; default 5. A document with fewer units is one shingle of all of them. */
  ngramSize?: number;
  /** Permutations per signature P; default 128. */
  numPermutations?: number;
  /** Seed of the permutations, a non-negative safe integer (folded to 32 bits); default 0. */
  seed?: number;
  /** Implementation of the permutation loop (identical signatures); default `wasm`, `js` is the reference. */
  kernel?: 'wasm' | 'js';
}

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;
// Per UTF-16 code unit: 0 not yet classified, 1 separator (whitespace or punctuation), 2 part of a word.
const charClass = new Uint8Array(65536);
const separatorPattern = /[\s\p{P}]/u;

function classify(unit: number): number {
  // Surrogate halves are parts of astral characters, which we count as word characters.
  const isSurrogate = unit >= 0xd800 && unit <= 0xdfff;
  const cls = !isSurrogate && separatorPattern.test(String.fromCharCode(unit)) ? 1 : 2;
  charClass[unit] = cls;
  return cls;
}

/** The murmur3 block scramble of one 32-bit token. */
function scramble(token: number): number {
  const k = Math.imul(token, 0xcc9e2d51);
  return Math.imul((k << 15) | (k >>> 17), 0x1b873593);
}

/** One murmur3 block step of `h` with an already scrambled token. */
function mixScrambled(h: number, scrambled: number): number {
  h ^= scrambled;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function mixToken(h: number, token: number): number {
  return mixScrambled(h, scramble(token));
}

export function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Reused per-document buffers; they grow to the longest document seen. */
export class ShingleScratch {
  tokens = new Uint32Array(1024);
  shingles = new Uint32Array(1024);

  /**
   * Writes the shingle hashes of `text` (already normalised) into `shingles`; returns their count. Tokens
   * are stored scrambled, so each of the n tokens of a shingle costs one mixing step.
   */
  fill(text: string, unit: ShingleUnit, ngramSize: number): number {
    if (this.tokens.length < text.length) {
      this.tokens = new Uint32Array(text.length * 2);
      this.shingles = new Uint32Array(text.length * 2);
    }
    const tokens = this.tokens;
    let count = 0;
    if (unit === 'word') {
      let h = fnvOffset;
      let inWord = false;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const cls = (charClass[c] as number) || classify(c);
        if (cls === 2) {
          h = Math.imul(h ^ c, fnvPrime);
          inWord = true;
        } else if (inWord) {
          tokens[count++] = scramble(h);
          h = fnvOffset;
          inWord = false;
        }
      }
      if (inWord) tokens[count++] = scramble(h);
    } else {
      for (let i = 0; i < text.length; i++) {
        const c = text.codePointAt(i) as number;
        tokens[count++] = scramble(c);
        if (c > 0xffff) i++;
      }
    }
    if (count === 0) return 0;
    const width = Math.min(ngramSize, count);
    const shingles = count - width + 1;
    const out = this.shingles;
    for (let j = 0; j < shingles; j++) {
      let h = 0x2545f491;
      for (let k = 0; k < width; k++) h = mixScrambled(h, tokens[j + k] as number);
      out[j] = finalMix(h ^ width);
    }
    return shingles;
  }
}

/** Sorts `values[0, count)` and removes repeats in place; returns the number of distinct values. */
export function sortUnique(values: Uint32Array, count: number): number {
  if (count === 0) return 0;
  values.subarray(0, count).sort();
  let m = 1;
  for (let i = 1; i < count; i++) {
    const v = values[i] as number;
    if (v !== values[m - 1]) values[m++] = v;
  }
  return m;
}

/** |A ∩ B| / |A ∪ B| of two sorted sets without repeats; 1 when both are empty (two empty documents are equal). */
export function sortedJaccard(a: Uint32Array, na: number, b: Uint32Array, nb: number): number {
  if (na === 0 && nb === 0) return 1;
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < na && j < nb) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return common / (na + nb - common);
}

/** The sorted distinct shingle hashes of `text` after normalisation, as MinHash sees the document. */
export function shingleSet(text: string, options: MinHashOptions = {}): Uint32Array {
  const { normalization, shingleUnit, ngramSize } = resolveShingling(options);
  const scratch = new ShingleScratch();
  const count = scratch.fill(normalizeText(text, normalization), shingleUnit, ngramSize);
  return scratch.shingles.slice(0, sortUnique(scratch.shingles, count));
}

/** Jaccard similarity of two shingle sets from {@link shingleSet} (sorted, distinct); 1 for two empty sets. */
export function jaccardSimilarity(a: Uint32Array, b: Uint32Array): number {
  return sortedJaccard(a, a.length, b, b.length);
}

/** Normalisation, shingle unit and n-gram size of `options`, with defaults applied and checked. */
export function resolveShingling(options: MinHashOptions) {
  return {
    normalization: options.normalization ?? noTextNormalization,
    shingleUnit: checkOneOf(options.shingleUnit ?? 'word', 'shingleUnit', shingleUnits),
    ngramSize: checkInteger(options.ngramSize ?? defaultNgramSize, 'ngramSize', 1, 1000),
  };
}
