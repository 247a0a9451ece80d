import { SiftError } from '@sift/kit/errors';

/**
 * The residual stream of a decoder captured at every layer boundary: `states[k]` holds x^k, the stream
 * entering layer k (k = 0..L−1), and `states[L]` the stream leaving the last layer; each is `rows × dim`
 * float32, row-major, with row r of every state coming from the same token of the same text.
 *
 * For the angular distance a row is the final (non-padding) token of one calibration sample; for block
 * influence a row is any non-padding token. Padding never enters: the caller passes only real rows.
 */
export interface ResidualStates {
  readonly states: readonly Float32Array[];
  readonly rows: number;
  readonly dim: number;
}

/**
 * A distance for every block of consecutive layers: `values[l * maxBlockSize + (n − 1)]` compares x^l with
 * x^(l+n), i.e. the stream before and after layers l..l+n−1. NaN where the block does not exist
 * (l + n > L) or was masked (see {@link BlockDistanceOptions.finalLayer}). The layout is the one of the
 * `AnalysisResult.distances` tensor: shape [layerCount, maxBlockSize].
 */
export interface BlockDistances {
  readonly layerCount: number;
  readonly maxBlockSize: number;
  readonly values: Float32Array;
}

export interface BlockDistanceOptions {
  /** Largest block size n measured; default L (every block). */
  maxBlockSize?: number;
  /**
   * `measure` (default) fills every block with l + n <= L; `mask` leaves NaN in the blocks that contain the
   * final layer (l + n = L), as the pruning contract reports them, since such a block may never be removed.
   */
  finalLayer?: 'measure' | 'mask';
}

/** One block of consecutive layers and its distance. */
export interface BlockChoice {
  /** n, the number of layers in the block. */
  readonly blockSize: number;
  /** l, the first layer of the block. */
  readonly startLayer: number;
  /** The distance at (l, n). */
  readonly distance: number;
}

function invalid(message: string): SiftError {
  return new SiftError('invalid_argument', message);
}

function checkStates(input: ResidualStates): number {
  const { states, rows, dim } = input;
  if (states.length < 2) throw invalid(`residual states: need x^0..x^L with L >= 1, got ${states.length} states`);
  if (!Number.isInteger(rows) || rows < 1)
    throw invalid(`residual states: rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(dim) || dim < 1) throw invalid(`residual states: dim must be a positive integer, got ${dim}`);
  states.forEach((s, k) => {
    if (s.length !== rows * dim) {
      throw invalid(`residual states: x^${k} holds ${s.length} values, expected rows × dim = ${rows * dim}`);
    }
  });
  return states.length - 1;
}

/** Euclidean norm of every row of every state, in float64. */
function rowNorms(input: ResidualStates): Float64Array[] {
  const { rows, dim } = input;
  return input.states.map((s) => {
    const norms = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      const o = r * dim;
      for (let j = 0; j < dim; j++) {
        const v = s[o + j]!;
        sum += v * v;
      }
      norms[r] = Math.sqrt(sum);
    }
    return norms;
  });
}

/**
 * Cosine of two rows, clamped to [−1, 1] so that rounding never takes arccos out of its domain. A zero row
 * has no direction: two zero rows count as identical (cos 1), one zero row as orthogonal (cos 0).
 */
function rowCosine(
  a: Float32Array,
  b: Float32Array,
  offset: number,
  dim: number,
  normA: number,
  normB: number,
): number {
  if (normA === 0 || normB === 0) return normA === normB ? 1 : 0;
  let dot = 0;
  for (let j = 0; j < dim; j++) dot += a[offset + j]! * b[offset + j]!;
  const c = dot / (normA * normB);
  return Math.min(1, Math.max(-1, c));
}

/** Mean over rows of `score(cos(x^l_r, x^(l+n)_r))` for every block, laid out as {@link BlockDistances}. */
function blockMeans(
  input: ResidualStates,
  opts: BlockDistanceOptions,
  score: (cosine: number) => number,
): BlockDistances {
  const layerCount = checkStates(input);
  const maxBlockSize = opts.maxBlockSize ?? layerCount;
  if (!Number.isInteger(maxBlockSize) || maxBlockSize < 1 || maxBlockSize > layerCount) {
    throw invalid(`maxBlockSize must be an integer in [1, ${layerCount}], got ${maxBlockSize}`);
  }
  const lastEnd = opts.finalLayer === 'mask' ? layerCount - 1 : layerCount;
  const { states, rows, dim } = input;
  const norms = rowNorms(input);
  const values = new Float32Array(layerCount * maxBlockSize).fill(Number.NaN);
  for (let l = 0; l < layerCount; l++) {
    for (let n = 1; n <= maxBlockSize && l + n <= lastEnd; n++) {
      const a = states[l]!;
      const b = states[l + n]!;
      const na = norms[l]!;
      const nb = norms[l + n]!;
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += score(rowCosine(a, b, r * dim, dim, na[r]!, nb[r]!));
      values[l * maxBlockSize + n - 1] = sum / rows;
    }
  }
  return { layerCount, maxBlockSize, values };
}

/**
 * Angular distance of Gromov et al. 2024 ("The Unreasonable Ineffectiveness of the Deeper Layers"):
 * d(x^l, x^(l+n)) = arccos(cos(x^l_T, x^(l+n)_T)) / π on the final token T, averaged over samples. Pass one
 * row per sample (its final token). 0 means the block leaves the stream's direction unchanged, 1 reverses it.
 */
export function angularDistanceMatrix(input: ResidualStates, opts: BlockDistanceOptions = {}): BlockDistances {
  return blockMeans(input, opts, (c) => Math.acos(c) / Math.PI);
}

/**
 * Block influence of ShortGPT (Men et al. 2024) extended to blocks: 1 − mean over all tokens of
 * cos(x^l, x^(l+n)). Pass every non-padding token as a row. Column n = 1 is the paper's per-layer BI.
 */
export function blockInfluenceMatrix(input: ResidualStates, opts: BlockDistanceOptions = {}): BlockDistances {
  return blockMeans(input, opts, (c) => 1 - c);
}

/**
 * ShortGPT's per-layer block influence BI_l = 1 − E_tokens cos(x^l, x^(l+1)) for l = 0..L−1; the layers
 * with the lowest BI are the ones ShortGPT removes.
 */
export function blockInfluence(input: ResidualStates): Float32Array {
  const m = blockInfluenceMatrix(input, { maxBlockSize: 1 });
  return m.values;
}

/** The distance of block (l, n), NaN when it was not measured. */
export function distanceAt(m: BlockDistances, startLayer: number, blockSize: number): number {
  if (blockSize < 1 || blockSize > m.maxBlockSize || startLayer < 0 || startLayer >= m.layerCount) return Number.NaN;
  return m.values[startLayer * m.maxBlockSize + blockSize - 1]!;
}

/**
 * l*(n) = argmin over l of the distance (Gromov et al. 2024), for one block size. Only blocks that
 * keep the final layer are candidates (l + n <= L − 1): the final layer is never removed. Ties go to the
 * earliest start. Undefined when no candidate has a finite distance.
 */
export function bestBlock(m: BlockDistances, blockSize: number): BlockChoice | undefined {
  let best: BlockChoice | undefined;
  for (let l = 0; l + blockSize <= m.layerCount - 1; l++) {
    const d = distanceAt(m, l, blockSize);
    if (Number.isFinite(d) && (best === undefined || d < best.distance)) {
      best = { blockSize, startLayer: l, distance: d };
    }
  }
  return best;
}

/** {@link bestBlock} for n = 1..maxBlockSize, n ascending; sizes with no candidate are left out. */
export function bestBlocks(m: BlockDistances): BlockChoice[] {
  const out: BlockChoice[] = [];
  for (let n = 1; n <= m.maxBlockSize; n++) {
    const b = bestBlock(m, n);
    if (b) out.push(b);
  }
  return out;
}
