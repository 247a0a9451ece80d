import { SiftError } from '@sift/kit/errors';

/**
 * How the ridge strength is given.
 * - `absolute`: α is added to the diagonal of MᵀM as is.
 * - `mean-diagonal`: α is a fraction of the mean diagonal of MᵀM (trace / d), so one value suits any
 *   activation scale and row count (the pruning contract's `ridge_alpha`, default 1e-3).
 */
export type RidgeScale = 'absolute' | 'mean-diagonal';

export interface RidgeOptions {
  /** α >= 0. With α = 0 the fit is ordinary least squares and needs MᵀM positive definite. */
  alpha: number;
  /** Default `mean-diagonal`. */
  scale?: RidgeScale;
}

/** Rows per float64 transpose tile: bounds the scratch memory at tile × (inputDim + outputDim) doubles. */
const tileRows = 256;

/**
 * Streaming ridge least squares: T = argmin ‖M T − Y‖² + α‖T‖² = (MᵀM + αI)⁻¹ MᵀY, for M of shape
 * [rows, inputDim] and Y of shape [rows, outputDim], with the rows arriving in batches. Only MᵀM
 * (inputDim²) and MᵀY (inputDim × outputDim) are kept, in float64 as ReplaceMe (Shopkhoev et al. 2025)
 * prescribes, so calibration activations never need to be in memory all at once; the solve is a Cholesky
 * factorisation of MᵀM + αI.
 */
export class RidgeAccumulator {
  private readonly gram: Float64Array;
  private readonly cross: Float64Array;
  private readonly inputTile: Float64Array;
  private readonly targetTile: Float64Array;
  private rowCount = 0;

  constructor(
    readonly inputDim: number,
    readonly outputDim: number,
  ) {
    if (!Number.isInteger(inputDim) || inputDim < 1)
      throw invalid(`inputDim must be a positive integer, got ${inputDim}`);
    if (!Number.isInteger(outputDim) || outputDim < 1) {
      throw invalid(`outputDim must be a positive integer, got ${outputDim}`);
    }
    this.gram = new Float64Array(inputDim * inputDim);
    this.cross = new Float64Array(inputDim * outputDim);
    this.inputTile = new Float64Array(inputDim * tileRows);
    this.targetTile = new Float64Array(outputDim * tileRows);
  }

  /** Rows accumulated so far. */
  get rows(): number {
    return this.rowCount;
  }

  /**
   * Adds `rows` rows of M (`inputs`, row-major rows × inputDim) and of Y (`targets`, rows × outputDim).
   * `rows` defaults to what `inputs` holds.
   */
  add(inputs: Float32Array, targets: Float32Array, rows = inputs.length / this.inputDim): void {
    const d = this.inputDim;
    const k = this.outputDim;
    if (!Number.isInteger(rows) || rows < 0) throw invalid(`rows must be a non-negative integer, got ${rows}`);
    if (inputs.length < rows * d)
      throw invalid(`inputs hold ${inputs.length} values, need rows × inputDim = ${rows * d}`);
    if (targets.length < rows * k) {
      throw invalid(`targets hold ${targets.length} values, need rows × outputDim = ${rows * k}`);
    }
    for (let r0 = 0; r0 < rows; r0 += tileRows) {
      const t = Math.min(tileRows, rows - r0);
      // Column-major float64 copies of the tile, so that every entry of MᵀM and MᵀY is one contiguous dot.
      const mc = this.inputTile;
      const yc = this.targetTile;
      for (let r = 0; r < t; r++) {
        const mi = (r0 + r) * d;
        for (let i = 0; i < d; i++) mc[i * t + r] = inputs[mi + i]!;
        const yi = (r0 + r) * k;
        for (let j = 0; j < k; j++) yc[j * t + r] = targets[yi + j]!;
      }
      for (let i = 0; i < d; i++) {
        const oi = i * t;
        for (let j = i; j < d; j++) {
          const oj = j * t;
          let s = 0;
          for (let r = 0; r < t; r++) s += mc[oi + r]! * mc[oj + r]!;
          this.gram[i * d + j]! += s;
        }
        for (let j = 0; j < k; j++) {
          const oj = j * t;
          let s = 0;
          for (let r = 0; r < t; r++) s += mc[oi + r]! * yc[oj + r]!;
          this.cross[i * k + j]! += s;
        }
      }
    }
    this.rowCount += rows;
  }

  /** T, row-major [inputDim, outputDim], in float64. */
  solve64(opts: RidgeOptions): Float64Array {
    const d = this.inputDim;
    if (this.rowCount === 0) throw invalid('least squares: no rows were added');
    if (!(opts.alpha >= 0) || !Number.isFinite(opts.alpha)) {
      throw invalid(`ridge alpha must be a finite number >= 0, got ${opts.alpha}`);
    }
    const a = new Float64Array(d * d);
    let trace = 0;
    for (let i = 0; i < d; i++) {
      trace += this.gram[i * d + i]!;
      for (let j = i; j < d; j++) {
        const v = this.gram[i * d + j]!;
        a[i * d + j] = v;
        a[j * d + i] = v;
      }
    }
    const ridge = (opts.scale ?? 'mean-diagonal') === 'mean-diagonal' ? (opts.alpha * trace) / d : opts.alpha;
    for (let i = 0; i < d; i++) a[i * d + i]! += ridge;
    choleskyInPlace(a, d, opts.alpha === 0);
    return choleskySolve(a, d, this.cross, this.outputDim);
  }

  /** T, row-major [inputDim, outputDim], rounded to float32 (what an ONNX initializer stores). */
  solve(opts: RidgeOptions): Float32Array {
    return Float32Array.from(this.solve64(opts));
  }
}

/**
 * Healing map for a removed block (l, n) as the graph adapter applies it: the stream x^l that now feeds
 * layer l + n goes through x ↦ x T first, with T fitted so that x^l T ≈ x^(l+n).
 *
 * Target: the residual difference. The fit is M = x^l, Y = x^(l+n) − x^l, and T = I + D with
 * D = (MᵀM + αI)⁻¹ MᵀY. Without ridge this is exactly the fit of x^l T ≈ x^(l+n); with ridge the shrinkage
 * pulls D towards 0, i.e. T towards the identity, which is plain (unhealed) pruning, instead of pulling T
 * towards the zero map that would wipe out the stream. A weak fit thus degrades to the unhealed model
 * rather than to something worse. (ReplaceMe's own target, L − Y with M the MLP output of the layer before
 * the cut, is the same solve with other rows: feed them to {@link RidgeAccumulator} directly.)
 */
export class BlockBridgeFit {
  private readonly acc: RidgeAccumulator;
  private difference: Float32Array = new Float32Array(0);

  constructor(readonly dim: number) {
    this.acc = new RidgeAccumulator(dim, dim);
  }

  get rows(): number {
    return this.acc.rows;
  }

  /** Adds `rows` rows of x^l (`blockInput`) and x^(l+n) (`blockOutput`), each rows × dim row-major. */
  add(blockInput: Float32Array, blockOutput: Float32Array, rows = blockInput.length / this.dim): void {
    const n = rows * this.dim;
    if (blockInput.length < n || blockOutput.length < n) {
      throw invalid(
        `block bridge: need ${n} values of input and output, got ${blockInput.length} and ${blockOutput.length}`,
      );
    }
    if (this.difference.length < n) this.difference = new Float32Array(n);
    const diff = this.difference;
    for (let i = 0; i < n; i++) diff[i] = blockOutput[i]! - blockInput[i]!;
    this.acc.add(blockInput, diff, rows);
  }

  /** T = I + D, row-major [dim, dim], float32. */
  solve(opts: RidgeOptions): Float32Array {
    const t = this.acc.solve64(opts);
    for (let i = 0; i < this.dim; i++) t[i * this.dim + i]! += 1;
    return Float32Array.from(t);
  }
}

function invalid(message: string): SiftError {
  return new SiftError('invalid_argument', message);
}

/**
 * Overwrites the lower triangle of the symmetric matrix `a` (d × d, row-major) with its Cholesky factor L,
 * a = L Lᵀ. A pivot at or below 1e-12 of the largest diagonal means `a` is not (numerically) positive
 * definite: MᵀM of rank-deficient activations (fewer independent rows than dimensions, a constant
 * feature) without ridge.
 */
function choleskyInPlace(a: Float64Array, d: number, unregularised: boolean): void {
  let maxDiag = 0;
  for (let i = 0; i < d; i++) maxDiag = Math.max(maxDiag, a[i * d + i]!);
  const floor = maxDiag * 1e-12;
  for (let j = 0; j < d; j++) {
    let pivot = a[j * d + j]!;
    for (let k = 0; k < j; k++) pivot -= a[j * d + k]! * a[j * d + k]!;
    if (!(pivot > floor)) {
      throw invalid(
        `least squares: MᵀM${unregularised ? '' : ' + αI'} is not positive definite (pivot ${pivot.toExponential(3)} at ` +
          `column ${j}): the calibration activations are rank-deficient${unregularised ? '; set a ridge alpha > 0 or add calibration tokens' : '; raise the ridge alpha'}`,
      );
    }
    const ljj = Math.sqrt(pivot);
    a[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = s / ljj;
    }
  }
}

/** Solves L Lᵀ X = B for B of shape d × k (row-major), with L from {@link choleskyInPlace}. */
function choleskySolve(l: Float64Array, d: number, b: Float64Array, k: number): Float64Array {
  const x = Float64Array.from(b);
  // Forward substitution L Z = B, all k columns at once (rows of X are contiguous).
  for (let i = 0; i < d; i++) {
    for (let p = 0; p < i; p++) {
      const lip = l[i * d + p]!;
      if (lip === 0) continue;
      for (let c = 0; c < k; c++) x[i * k + c]! -= lip * x[p * k + c]!;
    }
    const lii = l[i * d + i]!;
    for (let c = 0; c < k; c++) x[i * k + c]! /= lii;
  }
  // Back substitution Lᵀ X = Z.
  for (let i = d - 1; i >= 0; i--) {
    for (let p = i + 1; p < d; p++) {
      const lpi = l[p * d + i]!;
      if (lpi === 0) continue;
      for (let c = 0; c < k; c++) x[i * k + c]! -= lpi * x[p * k + c]!;
    }
    const lii = l[i * d + i]!;
    for (let c = 0; c < k; c++) x[i * k + c]! /= lii;
  }
  return x;
}
