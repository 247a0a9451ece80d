import { seededRandom } from '@sift/numeric';
import { minHashKernelWasm } from './minhash-kernel-wasm.js';
import { type MinHashOptions, resolveShingling, ShingleScratch } from './minhash-shingles.js';
import { checkInteger } from './parameter-checks.js';
import { normalizeText } from './text-normalization.js';

/**
 * MinHash signatures (Broder 1997, "On the resemblance and containment of documents"): the minima of a
 * document's shingle hashes under P seeded permutations. Two documents agree in one position with
 * probability equal to the Jaccard similarity of their shingle sets, so the fraction of agreeing positions
 * ({@link signatureAgreement}) estimates it.
 *
 * Hash functions, and why (the choice decides both speed and exactness):
 * - Permutation i is h_i(x) = (a_i·x + b_i) mod p over x = shingle hash >>> 1, with the Mersenne prime
 *   p = 2³¹ − 1, a_i ≠ 0. Arithmetic is exact: the two multiplications a shingle needs are split into 16-bit
 *   halves so every product stays below 2⁴⁸ (exact in a double) and reduced with 2³¹ ≡ 1 (mod p). 2⁶¹ − 1
 *   would need 64-bit products, which JavaScript has only as BigInt (too slow) or as 4-way 16-bit splits.
 *   Dropping the low hash bit makes two distinct shingles collide with probability 2⁻³¹, so spurious shared
 *   shingles between two 200-shingle documents have probability about 2·10⁻⁵ and move J by 1/400 when
 *   they occur; signature values are uniform on [0, p), so ties between different minima are as rare.
 * - The coefficients form arithmetic progressions: (a_i, b_i) = (a + i·a′, b + i·b′) mod p with a, b, a′, b′
 *   drawn from the seed. Each h_i is still a member of the universal family, but h_{i+1}(x) = h_i(x) +
 *   (a′x + b′) mod p, so after two exact evaluations per shingle every further permutation costs one
 *   add-and-reduce in int32 (no multiplication, no branch). Over random sets the agreement rate of 128
 *   such permutations has the mean J and the binomial spread √(J(1−J)/128) of independent ones
 *   (checked at J = 0.2, 0.5, 0.8).
 *
 * Two kernels run that loop with bit-identical results: `wasm` (the default), the same arithmetic on four
 * permutations at once in WebAssembly SIMD (`minhash-kernel.wat`), 3.5-4x faster per shingle; and `js`, the
 * scalar TypeScript below, kept as the readable reference that the tests and the bench compare against.
 */

/** The prime of the permutations, 2³¹ − 1; also the signature value of a document without shingles. */
export const minHashPrime = 0x7fffffff;
export const defaultNumPermutations = 128;

const two31 = 2147483648;
const inverseTwo31 = 1 / two31; // exact: multiplying by it is division by 2³¹ without a divide

/** (hi·x_hi + lo·x_lo + c) mod p, where hi = a·2¹⁶ mod p and lo = a, for x = x_hi·2¹⁶ + x_lo < 2³¹. */
function mulAddMod(hi: number, lo: number, c: number, xHi: number, xLo: number): number {
  const t = hi * xHi + lo * xLo + c; // < 2⁴⁸: exact
  const q = Math.floor(t * inverseTwo31);
  const r = t - q * two31 + q; // t ≡ q + (t mod 2³¹), because 2³¹ ≡ 1 (mod p)
  return r >= minHashPrime ? r - minHashPrime : r;
}

/** (x + y) mod p for x, y in [0, p), in int32 without a branch. */
function addMod(x: number, y: number): number {
  const s = (x - minHashPrime + y) | 0;
  return s + ((s >> 31) & minHashPrime);
}

/** Which implementation runs the permutation loop; both give the same signatures. */
export type MinHashKernel = 'wasm' | 'js';

/**
 * The parts of Node's WebAssembly API used here, typed locally: the project compiles against ES2023 and
 * Node's types, neither of which declares the `WebAssembly` global (TypeScript's "dom" lib does).
 */
interface WebAssemblyApi {
  Module: new (binary: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Compiled once per process; each {@link MinHasher} instantiates it with a memory of its own. */
let wasmModule: object | undefined;

/** The WebAssembly kernel's exports (see minhash-kernel.wat). */
interface WasmKernel {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  signature(
    shingles: number,
    count: number,
    mins: number,
    padded: number,
    a: bigint,
    b: bigint,
    aStep: bigint,
    bStep: bigint,
  ): void;
}

/**
 * P seeded permutations h_i(x) = (a_i·x + b_i) mod (2³¹ − 1) with (a_i, b_i) = (a + i·a′, b + i·b′) mod p,
 * and the signature of a shingle set under them (see the module comment for the arithmetic).
 */
export class MinHasher {
  readonly numPermutations: number;
  readonly kernel: MinHashKernel;
  private readonly padded: number;
  private readonly mins: Int32Array;
  // h_0(x) = (a·x + b) mod p and the step d(x) = (a′·x + b′) mod p, each kept as a·2¹⁶ mod p, a and b.
  private readonly baseHi: number;
  private readonly baseLo: number;
  private readonly baseAdd: number;
  private readonly stepHi: number;
  private readonly stepLo: number;
  private readonly stepAdd: number;
  /** The same coefficients as the WebAssembly kernel takes them, and its instance; `js` kernel: undefined. */
  private readonly wasm?: { kernel: WasmKernel; a: bigint; b: bigint; aStep: bigint; bStep: bigint };

  constructor(numPermutations: number, seed: number, kernel: MinHashKernel = 'wasm') {
    this.numPermutations = checkInteger(numPermutations, 'numPermutations', 1, 4096);
    checkInteger(seed, 'seed', 0);
    this.kernel = kernel;
    // The inner loop runs four permutations per pass; the padding ones are computed and ignored.
    this.padded = Math.ceil(numPermutations / 4) * 4;
    this.mins = new Int32Array(this.padded);
    const { a, b, aStep, bStep } = drawCoefficients(seed, this.padded);
    this.baseHi = (a * 65536) % minHashPrime;
    this.baseLo = a;
    this.baseAdd = b;
    this.stepHi = (aStep * 65536) % minHashPrime;
    this.stepLo = aStep;
    this.stepAdd = bStep;
    if (kernel === 'wasm') {
      wasmModule ??= new webAssembly.Module(Buffer.from(minHashKernelWasm, 'base64'));
      const instance = new webAssembly.Instance(wasmModule, {});
      const wasmKernel = instance.exports as unknown as WasmKernel;
      this.wasm = { kernel: wasmKernel, a: BigInt(a), b: BigInt(b), aStep: BigInt(aStep), bStep: BigInt(bStep) };
    }
  }

  /** a_i and b_i of permutation i (for tests and documentation). */
  coefficients(i: number): { a: number; b: number } {
    const times = (x: number, k: number) => Number((BigInt(x) * BigInt(k)) % BigInt(minHashPrime));
    return {
      a: (this.baseLo + times(this.stepLo, i)) % minHashPrime,
      b: (this.baseAdd + times(this.stepAdd, i)) % minHashPrime,
    };
  }

  /**
   * Writes the P minima of the first `count` shingle hashes into out[offset, offset + P). A document
   * without shingles gets p in every position, a value no shingle produces.
   */
  signature(shingles: Uint32Array, count: number, out: Uint32Array, offset: number): void {
    if (this.wasm) {
      this.wasmSignature(this.wasm, shingles, count, out, offset);
      return;
    }
    const mins = this.mins;
    mins.fill(minHashPrime);
    let j = 0;
    for (; j + 1 < count; j += 2) this.twoShingles(shingles[j] as number, shingles[j + 1] as number);
    if (j < count) this.twoShingles(shingles[j] as number, shingles[j] as number);
    for (let i = 0; i < this.numPermutations; i++) out[offset + i] = mins[i] as number;
  }

  /**
   * The WebAssembly kernel's memory holds the minima at byte 0 and the shingles after them; it grows (in
   * 64 KiB pages) when a document has more shingles than it has room for, and keeps that size.
   */
  private wasmSignature(
    wasm: NonNullable<MinHasher['wasm']>,
    shingles: Uint32Array,
    count: number,
    out: Uint32Array,
    offset: number,
  ): void {
    const { memory } = wasm.kernel;
    const shinglesAt = this.padded * 4;
    const needed = shinglesAt + count * 4;
    if (needed > memory.buffer.byteLength) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    }
    new Uint32Array(memory.buffer, shinglesAt, count).set(shingles.subarray(0, count));
    wasm.kernel.signature(shinglesAt, count, 0, this.padded, wasm.a, wasm.b, wasm.aStep, wasm.bStep);
    out.set(new Uint32Array(memory.buffer, 0, this.numPermutations), offset);
  }

  /**
   * Folds two shingles into the running minima. Permutation i + 4 of a shingle is permutation i's value
   * plus 4·d(x) mod p, so each shingle runs four independent add-and-reduce chains; two shingles per pass
   * halve the loads and stores of the minima. This loop is where MinHash spends its time.
   */
  private twoShingles(first: number, second: number): void {
    const mins = this.mins;
    const padded = this.padded;
    const p = minHashPrime;
    let a0 = this.firstValue(first);
    const da = this.stepValue(first);
    let a1 = addMod(a0, da);
    let a2 = addMod(a1, da);
    let a3 = addMod(a2, da);
    const da4 = addMod(addMod(da, da), addMod(da, da)) - p; // 4d mod p, shifted to [-p, 0)
    let b0 = this.firstValue(second);
    const db = this.stepValue(second);
    let b1 = addMod(b0, db);
    let b2 = addMod(b1, db);
    let b3 = addMod(b2, db);
    const db4 = addMod(addMod(db, db), addMod(db, db)) - p;
    for (let i = 0; i < padded; i += 4) {
      let m = mins[i] as number;
      if (a0 < m || b0 < m) mins[i] = Math.min(m, a0, b0);
      m = mins[i + 1] as number;
      if (a1 < m || b1 < m) mins[i + 1] = Math.min(m, a1, b1);
      m = mins[i + 2] as number;
      if (a2 < m || b2 < m) mins[i + 2] = Math.min(m, a2, b2);
      m = mins[i + 3] as number;
      if (a3 < m || b3 < m) mins[i + 3] = Math.min(m, a3, b3);
      // (h + 4d) mod p without a branch: h + (4d − p) is in [-p, p); add p back when negative.
      a0 = (a0 + da4) | 0;
      a0 += (a0 >> 31) & p;
      a1 = (a1 + da4) | 0;
      a1 += (a1 >> 31) & p;
      a2 = (a2 + da4) | 0;
      a2 += (a2 >> 31) & p;
      a3 = (a3 + da4) | 0;
      a3 += (a3 >> 31) & p;
      b0 = (b0 + db4) | 0;
      b0 += (b0 >> 31) & p;
      b1 = (b1 + db4) | 0;
      b1 += (b1 >> 31) & p;
      b2 = (b2 + db4) | 0;
      b2 += (b2 >> 31) & p;
      b3 = (b3 + db4) | 0;
      b3 += (b3 >> 31) & p;
    }
  }

  /** h_0(x) for shingle hash `shingle` (x = shingle >>> 1 < 2³¹, split into 15 + 16 bits). */
  private firstValue(shingle: number): number {
    const x = shingle >>> 1;
    return mulAddMod(this.baseHi, this.baseLo, this.baseAdd, x >>> 16, x & 0xffff) | 0;
  }

  /** d(x) = (a′·x + b′) mod p, the step from permutation i to i + 1. */
  private stepValue(shingle: number): number {
    const x = shingle >>> 1;
    return mulAddMod(this.stepHi, this.stepLo, this.stepAdd, x >>> 16, x & 0xffff) | 0;
  }
}

/**
 * a, a′ uniform on [1, p) and b, b′ on [0, p) from the seed (a safe integer, folded to 32 bits for the
 * generator), redrawn when some a_i = a + i·a′ of the first `count` is 0 (probability about count/p). The a_i
 * are distinct because a′ ≠ 0.
 */
function drawCoefficients(seed: number, count: number): { a: number; b: number; aStep: number; bStep: number } {
  const random = seededRandom((seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b1));
  const below = (m: number) => Math.floor(random() * m);
  for (;;) {
    const a = 1 + below(minHashPrime - 1);
    const aStep = 1 + below(minHashPrime - 1);
    const b = below(minHashPrime);
    const bStep = below(minHashPrime);
    let ai = a;
    let nonZero = true;
    for (let i = 0; i < count && nonZero; i++, ai = addMod(ai, aStep)) nonZero = ai !== 0;
    if (nonZero) return { a, b, aStep, bStep };
  }
}

/** The n × P signatures of `texts` (normalise, shingle, MinHash), computed one document at a time. */
export function minHashSignatures(texts: readonly string[], options: MinHashOptions = {}): Uint32Array {
  const { normalization, shingleUnit, ngramSize } = resolveShingling(options);
  const hasher = new MinHasher(options.numPermutations ?? defaultNumPermutations, options.seed ?? 0, options.kernel);
  const p = hasher.numPermutations;
  const out = new Uint32Array(texts.length * p);
  const scratch = new ShingleScratch();
  for (let d = 0; d < texts.length; d++) {
    const count = scratch.fill(normalizeText(texts[d] as string, normalization), shingleUnit, ngramSize);
    hasher.signature(scratch.shingles, count, out, d * p);
  }
  return out;
}

/** Fraction of equal positions of signature rows i and j: the MinHash estimate of their Jaccard similarity. */
export function signatureAgreement(signatures: Uint32Array, p: number, i: number, j: number): number {
  let equal = 0;
  for (let k = 0; k < p; k++) if (signatures[i * p + k] === signatures[j * p + k]) equal++;
  return equal / p;
}
