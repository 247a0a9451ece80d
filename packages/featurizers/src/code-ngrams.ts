/**
 * `code-ngrams`: source code -> a hashed bag of identifier sub-words, sub-word bigrams, character n-grams
 * of sub-words and operators, for a linear encoder over those buckets (the LSA model `code-ngram`).
 *
 * Feature definition (so that another implementation can reproduce it bit for bit):
 * 1. lex the source with {@link forEachCodeToken}; only the first `maxTokens` tokens (of any kind) are used;
 * 2. for each identifier, NFC-normalised, its lower-case sub-words s1..sn ({@link identifierSubwords}) yield
 *    - `u:<si>` for each sub-word, and `u:<identifier lower-cased>` when n > 1;
 *    - `b:<prev> <si>` for consecutive sub-words of the identifier stream (the bigram spans identifiers:
 *      `user.name` gives `b:user name`);
 *    - `c:<gram>` for every n-gram, n in [charNgramMin, charNgramMax], of code points of `<` + si + `>`;
 * 3. each operator/punctuation token t yields `o:<t>`; numbers yield nothing (they are counted as tokens);
 * 4. each feature string goes to bucket `fnv1a32(utf8(feature)) mod buckets` and counts are summed per
 *    bucket (so colliding features share a count);
 * 5. the value of a bucket with count c > 0 is `1 + ln(c)` (sublinear tf); other buckets are 0.
 */
import type { CodeTokenKind } from './code-tokens.js';
import { forEachCodeToken, identifierSubwords } from './code-tokens.js';
import type { EncodedInput, Featurizer, FeedTensor } from './featurizer.js';
import { FNV1A32_OFFSET, fnv1a32Byte, fnv1a32CodePoint, fnv1a32Continue } from './fnv1a.js';

/** Options of a `code-ngrams` featurizer (the manifest's `preprocessing` block). */
export interface CodeNgramsOptions {
  /** Number of hash buckets H: the width of the `features` input. */
  readonly buckets: number;
  /** Most code tokens used per input; later tokens are ignored and `truncated` is set. */
  readonly maxTokens: number;
  /** Shortest character n-gram of a sub-word (with its `<` `>` boundary marks); default 3. */
  readonly charNgramMin?: number;
  /** Longest character n-gram; default 5. */
  readonly charNgramMax?: number;
}

/** One input as a sparse row: ascending bucket indices and their `1 + ln(count)` values. */
export interface CodeNgramsEncoded extends EncodedInput {
  readonly buckets: Int32Array;
  readonly values: Float32Array;
}

const LESS_THAN = 0x3c;
const GREATER_THAN = 0x3e;
const SPACE = 0x20;
const UNIGRAM_SEED = fnv1a32Continue(FNV1A32_OFFSET, 'u:');
const BIGRAM_SEED = fnv1a32Continue(FNV1A32_OFFSET, 'b:');
const CHAR_NGRAM_SEED = fnv1a32Continue(FNV1A32_OFFSET, 'c:');
const OPERATOR_SEED = fnv1a32Continue(FNV1A32_OFFSET, 'o:');

/** Hashed code n-grams into `features` float32 [batch, buckets]. */
export class CodeNgramsFeaturizer implements Featurizer<CodeNgramsEncoded> {
  readonly kind = 'code-ngrams';
  readonly maxTokens: number;
  readonly buckets: number;
  readonly charNgramMin: number;
  readonly charNgramMax: number;
  /** Per-bucket counts of the input being encoded; zeroed again (only where touched) after each input. */
  private readonly counts: Uint32Array;
  private readonly touched: number[] = [];
  private readonly codePoints: number[] = [];

  constructor(options: CodeNgramsOptions) {
    const { buckets, maxTokens, charNgramMin = 3, charNgramMax = 5 } = options;
    const positive = (name: string, v: number) => {
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`code-ngrams: ${name} must be a positive integer, got ${v}`);
    };
    positive('buckets', buckets);
    positive('maxTokens', maxTokens);
    positive('charNgramMin', charNgramMin);
    positive('charNgramMax', charNgramMax);
    if (charNgramMax < charNgramMin) {
      throw new RangeError(`code-ngrams: charNgramMax (${charNgramMax}) is below charNgramMin (${charNgramMin})`);
    }
    this.buckets = buckets;
    this.maxTokens = maxTokens;
    this.charNgramMin = charNgramMin;
    this.charNgramMax = charNgramMax;
    this.counts = new Uint32Array(buckets);
  }

  encode(source: string): CodeNgramsEncoded {
    let tokenCount = 0;
    let previous: string | undefined;
    forEachCodeToken(source, (kind: CodeTokenKind, text: string) => {
      tokenCount++;
      if (tokenCount > this.maxTokens) return;
      if (kind === 'operator') {
        this.count(fnv1a32Continue(OPERATOR_SEED, text));
      } else if (kind === 'identifier') {
        const subwords = identifierSubwords(text);
        for (const subword of subwords) {
          this.count(fnv1a32Continue(UNIGRAM_SEED, subword));
          if (previous !== undefined) {
            this.count(fnv1a32Continue(fnv1a32Byte(fnv1a32Continue(BIGRAM_SEED, previous), SPACE), subword));
          }
          previous = subword;
          this.countCharNgrams(subword);
        }
        if (subwords.length > 1) this.count(fnv1a32Continue(UNIGRAM_SEED, text.normalize('NFC').toLowerCase()));
      }
    });
    const touched = this.touched.sort((a, b) => a - b);
    const buckets = Int32Array.from(touched);
    const values = new Float32Array(touched.length);
    for (let i = 0; i < touched.length; i++) {
      const b = touched[i]!;
      values[i] = 1 + Math.log(this.counts[b]!);
      this.counts[b] = 0;
    }
    touched.length = 0;
    const fedTokens = Math.min(tokenCount, this.maxTokens);
    return { tokenCount, truncated: tokenCount > this.maxTokens, fedTokens, buckets, values };
  }

  /** Dense rows: `features` float32 [batch, buckets]. */
  collate(batch: readonly CodeNgramsEncoded[]): Record<string, FeedTensor> {
    const h = this.buckets;
    const data = new Float32Array(batch.length * h);
    batch.forEach((item, row) => {
      const offset = row * h;
      for (let i = 0; i < item.buckets.length; i++) data[offset + item.buckets[i]!] = item.values[i]!;
    });
    return { features: { dtype: 'float32', dims: [batch.length, h], data } };
  }

  private count(hash: number): void {
    const bucket = hash % this.buckets;
    const before = this.counts[bucket]!;
    if (before === 0) this.touched.push(bucket);
    this.counts[bucket] = before + 1;
  }

  /** Character n-grams of `<subword>`, hashed incrementally: one FNV pass per start position. */
  private countCharNgrams(subword: string): void {
    const cps = this.codePoints;
    cps.length = 0;
    cps.push(LESS_THAN);
    for (let i = 0; i < subword.length; i++) {
      const cp = subword.codePointAt(i)!;
      if (cp > 0xffff) i++;
      cps.push(cp);
    }
    cps.push(GREATER_THAN);
    for (let start = 0; start + this.charNgramMin <= cps.length; start++) {
      let h = CHAR_NGRAM_SEED;
      const end = Math.min(cps.length, start + this.charNgramMax);
      for (let i = start; i < end; i++) {
        h = fnv1a32CodePoint(h, cps[i]!);
        if (i - start + 1 >= this.charNgramMin) this.count(h);
      }
    }
  }
}
