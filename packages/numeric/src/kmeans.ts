import { sampleIndices, seededRandom } from './rng.js';
import { matmulTransposed, normalizeRows } from './vectors.js';

/** Nearest centroid of each row: its index and the cosine similarity to it. */
export interface Assignment {
  labels: Int32Array;
  similarity: Float32Array;
}

/**
 * Assigns unit rows x [n, d] to their most similar unit centroid [k, d]. The assignment step is one
 * matrix product plus an argmax, so it can run wherever a fast GEMM runs: the default is blocked
 * TypeScript; services pass an ONNX Runtime kernel (MatMul + ArgMax) that uses MLAS or CUDA.
 */
export type AssignKernel = (
  x: Float32Array,
  n: number,
  d: number,
  centroids: Float32Array,
  k: number,
) => Promise<Assignment>;

/** Rows per assignment chunk: bounds the [chunk, k] score buffer. */
const assignChunkRows = 2048;

/** The TypeScript assignment kernel: chunked A·Cᵀ and a row-wise argmax. */
export const assignNearest: AssignKernel = async (x, n, d, centroids, k) => {
  const labels = new Int32Array(n);
  const similarity = new Float32Array(n);
  const scores = new Float32Array(Math.min(n, assignChunkRows) * k);
  for (let r0 = 0; r0 < n; r0 += assignChunkRows) {
    const rows = Math.min(assignChunkRows, n - r0);
    matmulTransposed(x.subarray(r0 * d, (r0 + rows) * d), rows, centroids, k, d, scores);
    for (let i = 0; i < rows; i++) {
      let best = 0;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < k; j++) {
        const s = scores[i * k + j] as number;
        if (s > bestScore) {
          bestScore = s;
          best = j;
        }
      }
      labels[r0 + i] = best;
      similarity[r0 + i] = bestScore;
    }
  }
  return { labels, similarity };
};

export interface SphericalKMeansOptions {
  /** Number of clusters; 1 <= k <= rows. */
  k: number;
  /** Most Lloyd (or mini-batch) iterations. */
  maxIterations?: number;
  /** Seed of initialisation and sampling; same seed, same clustering. */
  seed?: number;
  /** Stop when the mean cosine improves by less than this between iterations. */
  tolerance?: number;
  /** Fit on this many sampled rows, then assign every row ("fit on a sample, assign all"). */
  sampleSize?: number;
  /** Use mini-batch updates (Sculley 2010) with batches of this many rows instead of full Lloyd steps. */
  miniBatchSize?: number;
  /** Assignment kernel; defaults to the TypeScript one. */
  assign?: AssignKernel;
  /** Called after each iteration with the mean cosine to the assigned centroid. */
  onIteration?: (iteration: number, objective: number) => void;
  /** Checked before every assignment call (seeding included): an aborted fit stops within one call. */
  signal?: AbortSignal;
}

export interface KMeansResult {
  k: number;
  /** Unit centroids [k, d]. */
  centroids: Float32Array;
  /** Cluster of every input row. */
  labels: Int32Array;
  /** Cosine similarity of every row to its centroid. */
  similarity: Float32Array;
  /** Mean cosine similarity to the assigned centroid (higher is better). */
  objective: number;
  iterations: number;
}

/**
 * Spherical (cosine) k-means: rows are L2-normalised, centroids are normalised means, points go to the
 * centroid of highest cosine. k-means++ seeding on a bounded subsample (distance 1 - cos), Lloyd or
 * mini-batch updates, empty clusters reseeded with the worst-served point. Deterministic for a seed.
 * `x` must already be unit rows (see normalizeRows); it is not modified.
 */
export async function sphericalKMeans(x: Float32Array, d: number, opts: SphericalKMeansOptions): Promise<KMeansResult> {
  const n = x.length / d;
  const k = opts.k;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`k must be an integer in [1, ${n}], got ${k}`);
  const random = seededRandom(opts.seed ?? 0);
  const assign = opts.assign ?? assignNearest;
  const maxIterations = opts.maxIterations ?? 20;
  const tolerance = opts.tolerance ?? 1e-5;

  // The fit set: every row, or a sample of them.
  const fitIdx =
    opts.sampleSize && opts.sampleSize < n ? sampleIndices(n, Math.max(k, opts.sampleSize), random) : undefined;
  const fit = fitIdx ? gatherRows(x, fitIdx, d) : x;
  const m = fit.length / d;

  const signal = opts.signal;
  const checkedAssign: AssignKernel = (rows, count, dims, c, kk) => {
    signal?.throwIfAborted();
    return assign(rows, count, dims, c, kk);
  };
  const centroids = await kMeansPlusPlus(fit, d, k, random, checkedAssign);
  let objective = Number.NEGATIVE_INFINITY;
  let iterations = 0;
  const counts = new Float64Array(k);
  for (let it = 0; it < maxIterations; it++) {
    iterations = it + 1;
    if (opts.miniBatchSize && opts.miniBatchSize < m) {
      const batchIdx = sampleIndices(m, opts.miniBatchSize, random);
      const batch = gatherRows(fit, batchIdx, d);
      const a = await checkedAssign(batch, batchIdx.length, d, centroids, k);
      miniBatchUpdate(centroids, counts, batch, a.labels, d);
      const next = mean(a.similarity);
      opts.onIteration?.(iterations, next);
      objective = next;
      continue;
    }
    const a = await checkedAssign(fit, m, d, centroids, k);
    const next = mean(a.similarity);
    opts.onIteration?.(iterations, next);
    lloydUpdate(centroids, fit, a, d, k);
    if (next - objective < tolerance) {
      objective = next;
      break;
    }
    objective = next;
  }
  const final = await checkedAssign(x, n, d, centroids, k);
  return {
    k,
    centroids,
    labels: final.labels,
    similarity: final.similarity,
    objective: mean(final.similarity),
    iterations,
  };
}

/**
 * k-means++ seeding on at most `10k` (min 1000) sampled rows, to bound its O(n k d): each next seed is drawn
 * with probability proportional to the squared Euclidean distance to the nearest seed, which for unit rows is
 * ‖x − c‖² = 2 (1 − cos), so the weight is 1 − cos itself (squaring it again would over-favour outliers).
 */
async function kMeansPlusPlus(
  x: Float32Array,
  d: number,
  k: number,
  random: () => number,
  assign: AssignKernel,
): Promise<Float32Array> {
  const n = x.length / d;
  const poolIdx = n > Math.max(1000, 10 * k) ? sampleIndices(n, Math.max(1000, 10 * k), random) : undefined;
  const pool = poolIdx ? gatherRows(x, poolIdx, d) : x;
  const p = pool.length / d;
  const centroids = new Float32Array(k * d);
  const nearest = new Float64Array(p).fill(Number.POSITIVE_INFINITY);
  let pick = Math.floor(random() * p);
  for (let c = 0; c < k; c++) {
    centroids.set(pool.subarray(pick * d, pick * d + d), c * d);
    const a = await assign(pool, p, d, centroids.subarray(c * d, c * d + d), 1);
    let total = 0;
    for (let i = 0; i < p; i++) {
      const dist = Math.max(0, 1 - (a.similarity[i] as number));
      if (dist < (nearest[i] as number)) nearest[i] = dist;
      total += nearest[i] as number;
    }
    if (c + 1 === k) break;
    if (total === 0) {
      pick = Math.floor(random() * p);
      continue;
    }
    let r = random() * total;
    pick = p - 1;
    for (let i = 0; i < p; i++) {
      r -= nearest[i] as number;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  return centroids;
}

/** Centroid j = normalised sum of its rows; an empty cluster takes the row its centroid serves worst. */
function lloydUpdate(centroids: Float32Array, x: Float32Array, a: Assignment, d: number, k: number): void {
  const sums = new Float64Array(k * d);
  const sizes = new Int32Array(k);
  const n = x.length / d;
  for (let i = 0; i < n; i++) {
    const j = a.labels[i] as number;
    sizes[j] = (sizes[j] as number) + 1;
    const o = i * d;
    const s = j * d;
    for (let t = 0; t < d; t++) sums[s + t] = (sums[s + t] as number) + (x[o + t] as number);
  }
  const taken = new Set<number>();
  for (let j = 0; j < k; j++) {
    if (sizes[j] === 0) {
      let worst = 0;
      let worstSim = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        if (!taken.has(i) && (a.similarity[i] as number) < worstSim) {
          worstSim = a.similarity[i] as number;
          worst = i;
        }
      }
      taken.add(worst);
      centroids.set(x.subarray(worst * d, worst * d + d), j * d);
      continue;
    }
    for (let t = 0; t < d; t++) centroids[j * d + t] = sums[j * d + t] as number;
  }
  normalizeRows(centroids, d);
}

/** Sculley's per-centre learning rate 1/count, then renormalise (stays on the sphere). */
function miniBatchUpdate(
  centroids: Float32Array,
  counts: Float64Array,
  batch: Float32Array,
  labels: Int32Array,
  d: number,
): void {
  for (let i = 0; i < labels.length; i++) {
    const j = labels[i] as number;
    counts[j] = (counts[j] as number) + 1;
    const eta = 1 / (counts[j] as number);
    for (let t = 0; t < d; t++) {
      const c = centroids[j * d + t] as number;
      centroids[j * d + t] = c + eta * ((batch[i * d + t] as number) - c);
    }
  }
  normalizeRows(centroids, d);
}

/** Rows `idx` of x, copied into a new [idx.length, d] matrix. */
export function gatherRows(x: Float32Array, idx: ArrayLike<number>, d: number): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i] as number;
    out.set(x.subarray(r * d, r * d + d), i * d);
  }
  return out;
}

function mean(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] as number;
  return v.length === 0 ? 0 : s / v.length;
}
