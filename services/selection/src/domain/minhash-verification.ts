import type { MinHashParams } from './minhash-params.js';
import { ShingleScratch, sortedJaccard, sortUnique } from './minhash-shingles.js';
import { signatureAgreement } from './minhash-signatures.js';
import { normalizeText } from './text-normalization.js';

/**
 * Candidate verification for MinHash dedup: the exact Jaccard of two documents of the dataset, computed on
 * demand from their texts ({@link CandidateVerifier}), which drops LSH false positives, and the similarity
 * reported for each dropped document against its survivor.
 */

/**
 * Exact Jaccard of the current document against others, re-shingling the other text on demand (the texts
 * are in memory anyway; keeping every document's shingle set would cost ~4 bytes per shingle).
 */
export class CandidateVerifier {
  private readonly current = new ShingleScratch();
  private readonly other = new ShingleScratch();
  private currentCount = -1;
  private pending: Uint32Array | undefined;
  private pendingCount = 0;

  constructor(
    private readonly texts: readonly string[],
    private readonly params: MinHashParams,
  ) {}

  /**
   * Moves to the next current document; when its shingle hashes are at hand, pass them (they are copied
   * and sorted only if a candidate needs them).
   */
  reset(shingles?: Uint32Array, count = 0): void {
    this.currentCount = -1;
    this.pending = shingles;
    this.pendingCount = count;
  }

  jaccard(d: number, m: number): number {
    if (this.currentCount < 0) this.currentCount = this.loadCurrent(d);
    const otherCount = this.load(this.other, m);
    return sortedJaccard(this.current.shingles, this.currentCount, this.other.shingles, otherCount);
  }

  private loadCurrent(d: number): number {
    if (this.pending === undefined) return this.load(this.current, d);
    if (this.current.shingles.length < this.pendingCount) this.current.shingles = new Uint32Array(this.pendingCount);
    this.current.shingles.set(this.pending.subarray(0, this.pendingCount));
    return sortUnique(this.current.shingles, this.pendingCount);
  }

  private load(scratch: ShingleScratch, i: number): number {
    const { normalization, shingleUnit, ngramSize } = this.params;
    const text = normalizeText(this.texts[i] as string, normalization);
    // fill() may replace scratch.shingles with a larger buffer: read the field only after it ran.
    const count = scratch.fill(text, shingleUnit, ngramSize);
    return sortUnique(scratch.shingles, count);
  }
}

/**
 * Similarity of each in-dataset duplicate to its survivor: exact Jaccard when `texts` are given (grouped by
 * survivor so each survivor is shingled once), else signature agreement.
 */
export function fillDuplicateSimilarity(
  jaccard: Float32Array,
  duplicateOf: Int32Array,
  signatures: Uint32Array,
  p: number,
  texts: readonly string[] | undefined,
  params: MinHashParams,
): void {
  const duplicates: number[] = [];
  for (let i = 0; i < duplicateOf.length; i++) if ((duplicateOf[i] as number) >= 0) duplicates.push(i);
  if (texts === undefined) {
    for (const i of duplicates) jaccard[i] = signatureAgreement(signatures, p, i, duplicateOf[i] as number);
    return;
  }
  duplicates.sort((x, y) => (duplicateOf[x] as number) - (duplicateOf[y] as number) || x - y);
  const verifier = new CandidateVerifier(texts, params);
  let survivor = -1;
  for (const i of duplicates) {
    const s = duplicateOf[i] as number;
    if (s !== survivor) {
      verifier.reset();
      survivor = s;
    }
    jaccard[i] = verifier.jaccard(s, i);
  }
}
