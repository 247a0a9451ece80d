import { matmulTransposed } from '@sift/numeric';
import {
  type ClusteredEmbeddings,
  centroidSimilarity,
  checkClusteredEmbeddings,
  clusterMembers,
} from './clustered-embeddings.js';
import { checkInRange, checkInteger, invalidArgument, keepCountOf } from './parameter-checks.js';
import { projectOntoBudget, roundToBudget } from './quota-projection.js';

export const defaultDensityTemperature = 0.5;
export const defaultNearestCentroids = 20;
export const defaultMinQuotaFactor = 0.5;

export interface ClusterComplexityOptions {
  /** Nearest other centroids averaged for d_inter; default 20, capped at k − 1. */
  nearestCentroids?: number;
}

export interface ClusterComplexity {
  /** Rows per cluster. */
  sizes: Int32Array;
  /** d_intra(j) = mean over x in C_j of 1 − cos(x, μ_j); NaN for an empty cluster. */
  intraDistance: Float64Array;
  /** d_inter(j) = mean of 1 − cos(μ_j, μ_i) over the nearest other centroids; NaN when k = 1. */
  interDistance: Float64Array;
  /** C_j = d_inter · d_intra, non-finite values replaced by the mean of the finite ones; NaN when empty. */
  complexity: Float64Array;
  /** The effective number of neighbours (nearestCentroids capped at k − 1). */
  nearestCentroids: number;
}

export interface DensityPruningOptions extends ClusterComplexityOptions {
  /** Fraction of the rows to keep, in (0, 1]; rounded to the nearest count. Set this or keepCount. */
  keepFraction?: number;
  /** Number of rows to keep (the budget N). Set this or keepFraction. */
  keepCount?: number;
  /** Softmax temperature τ > 0; default 0.5. */
  temperature?: number;
  /** Factor of the per-cluster floor m = ⌊(n / k) · factor⌋, >= 0; default 0.5. */
  minQuotaFactor?: number;
}

export interface DensityPruningResult extends ClusterComplexity {
  /** Rows kept in total (N); Σ quotas. */
  budget: number;
  /** The floor m. */
  minQuota: number;
  temperature: number;
  /** P = softmax(C / τ) over the non-empty clusters; 0 for empty ones. */
  probability: Float64Array;
  /** The exact continuous quotas x_j = clip(P_j·N + shift, lo_j, hi_j). */
  exactQuotas: Float64Array;
  shift: number;
  /** Integer quotas (largest remainder of exactQuotas); Σ = budget. */
  quotas: Int32Array;
  /** Cosine distance of each row to its centroid: the in-cluster ranking key (largest kept first). */
  centroidDistance: Float32Array;
  /** 1 when the row is kept. */
  kept: Uint8Array;
}

/**
 * Concept complexity of density-based pruning (Abbas et al. 2024, "Effective pruning of web-scale
 * datasets based on complexity of concept clusters"): C_j = d_inter(j) · d_intra(j). A cluster that is
 * spread out (large d_intra) and far from its neighbours (large d_inter) is a complex concept that
 * deserves more samples; a dense cluster near others is redundant.
 *
 * Every centroid, including one of an empty cluster, is a neighbour candidate: it still marks a region the
 * clustering found. A non-finite C_j (k = 1 leaves no neighbours) takes the mean of the finite ones, as the
 * paper prescribes for NaN; if none is finite every non-empty cluster gets 0, i.e. a uniform softmax.
 */
export function clusterComplexity(
  input: ClusteredEmbeddings,
  options: ClusterComplexityOptions = {},
): ClusterComplexity {
  const { n, k } = checkClusteredEmbeddings(input);
  const nearest = Math.min(
    checkInteger(options.nearestCentroids ?? defaultNearestCentroids, 'nearestCentroids', 1),
    k - 1,
  );
  const { dims, labels, centroids } = input;

  const sizes = new Int32Array(k);
  const intraDistance = new Float64Array(k);
  const sim = centroidSimilarity(input);
  for (let i = 0; i < n; i++) {
    const c = labels[i] as number;
    sizes[c] = (sizes[c] as number) + 1;
    intraDistance[c] = (intraDistance[c] as number) + 1 - (sim[i] as number);
  }
  for (let c = 0; c < k; c++)
    intraDistance[c] = sizes[c] === 0 ? Number.NaN : (intraDistance[c] as number) / (sizes[c] as number);

  const interDistance = nearestCentroidDistance(centroids, k, dims, nearest);

  const complexity = new Float64Array(k);
  let finiteSum = 0;
  let finiteCount = 0;
  for (let c = 0; c < k; c++) {
    const v = (interDistance[c] as number) * (intraDistance[c] as number);
    complexity[c] = v;
    if (sizes[c] !== 0 && Number.isFinite(v)) {
      finiteSum += v;
      finiteCount++;
    }
  }
  const fill = finiteCount === 0 ? 0 : finiteSum / finiteCount;
  for (let c = 0; c < k; c++) {
    if (sizes[c] === 0) complexity[c] = Number.NaN;
    else if (!Number.isFinite(complexity[c] as number)) complexity[c] = fill;
  }
  return { sizes, intraDistance, interDistance, complexity, nearestCentroids: nearest };
}

/**
 * Density-based pruning, DBP (Abbas et al. 2024). Per-cluster quotas x solve
 *   min ‖x − P·N‖²  s.t.  Σx = N,  min(m, |C_j| − 1) ≤ x_j ≤ |C_j|,
 * with P = softmax(C / τ) over the cluster complexities, N the budget and m = ⌊(N / k) · minQuotaFactor⌋
 * a floor that stops small clusters from being emptied (never binding the budget for a factor <= 1). The problem is a box-constrained projection,
 * solved exactly by {@link projectOntoBudget}; its real solution is rounded with the largest-remainder
 * method ({@link roundToBudget}) so the integer quotas sum to N exactly. Each cluster then keeps its x_j
 * rows farthest from the centroid (the SSL-prototypes rule applied per cluster); equal distances keep the
 * lower row index.
 *
 * Empty clusters take no part in the softmax and get quota 0 (lo = hi = 0): a probability mass they could
 * never use would otherwise only shift everyone else's target.
 *
 * Throws `invalid_argument` naming the budget when it is below Σ lo_j (the floors) — the error says how
 * many rows the floors require.
 */
export function densityPruning(input: ClusteredEmbeddings, options: DensityPruningOptions): DensityPruningResult {
  const { n, k } = checkClusteredEmbeddings(input);
  const budget = keepCountOf(n, options.keepFraction, options.keepCount);
  const temperature = checkInRange(
    options.temperature ?? defaultDensityTemperature,
    'temperature',
    0,
    Number.POSITIVE_INFINITY,
  );
  const minQuotaFactor = options.minQuotaFactor ?? defaultMinQuotaFactor;
  if (!Number.isFinite(minQuotaFactor) || minQuotaFactor < 0) {
    throw invalidArgument('minQuotaFactor', `must be a finite number >= 0, got ${minQuotaFactor}`);
  }
  const complexity = clusterComplexity(input, options);
  const { sizes } = complexity;

  const probability = new Float64Array(k);
  let maxLogit = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < k; c++) {
    if (sizes[c] !== 0) maxLogit = Math.max(maxLogit, (complexity.complexity[c] as number) / temperature);
  }
  // Subtracting the largest logit keeps exp() finite for small τ without changing the softmax.
  let z = 0;
  for (let c = 0; c < k; c++) {
    if (sizes[c] === 0) continue;
    probability[c] = Math.exp((complexity.complexity[c] as number) / temperature - maxLogit);
    z += probability[c] as number;
  }
  for (let c = 0; c < k; c++) probability[c] = z === 0 ? 0 : (probability[c] as number) / z;

  // N in the paper's m = ⌊(N / k) · 0.5⌋ is the budget (the same N as Σx = N), not the input size: with the
  // input size the floors alone exceeded budgets under half the data for factor 0.5.
  const minQuota = Math.floor((budget / k) * minQuotaFactor);
  const lo = new Float64Array(k);
  const hi = new Float64Array(k);
  const target = new Float64Array(k);
  let sumLo = 0;
  for (let c = 0; c < k; c++) {
    const size = sizes[c] as number;
    lo[c] = size === 0 ? 0 : Math.min(minQuota, size - 1);
    hi[c] = size;
    target[c] = (probability[c] as number) * budget;
    sumLo += lo[c] as number;
  }
  if (budget < sumLo) {
    throw invalidArgument(
      'budget',
      `of ${budget} rows is infeasible: the per-cluster floors min(m, |C_j| − 1) with m = ${minQuota} already keep ${sumLo} of ${n}; keep more rows or lower minQuotaFactor`,
    );
  }
  const { values: exactQuotas, shift } = projectOntoBudget(target, lo, hi, budget);
  const quotas = roundToBudget(exactQuotas, lo, hi, budget);

  const sim = centroidSimilarity(input);
  const centroidDistance = new Float32Array(n);
  for (let i = 0; i < n; i++) centroidDistance[i] = 1 - (sim[i] as number);
  const kept = new Uint8Array(n);
  const members = clusterMembers(input.labels, k);
  for (let c = 0; c < k; c++) {
    const inCluster = members.members.subarray(members.offsets[c] as number, members.offsets[c + 1] as number);
    inCluster.sort((a, b) => (centroidDistance[b] as number) - (centroidDistance[a] as number) || a - b);
    for (let r = 0; r < (quotas[c] as number); r++) kept[inCluster[r] as number] = 1;
  }

  return {
    ...complexity,
    budget,
    minQuota,
    temperature,
    probability,
    exactQuotas,
    shift,
    quotas,
    centroidDistance,
    kept,
  };
}

/** Rows of the centroid similarity matrix computed at once: bounds the scratch to 256 · k floats. */
const centroidBlockRows = 256;

/**
 * d_inter(j): mean cosine distance from μ_j to its `nearest` closest other centroids (closest = highest
 * cosine). The k × k similarity matrix is produced in row blocks, and the `nearest` smallest distances are
 * kept by insertion into a short sorted list, O(k · nearest) per centroid, since nearest (20) ≪ k.
 */
function nearestCentroidDistance(centroids: Float32Array, k: number, dims: number, nearest: number): Float64Array {
  const out = new Float64Array(k);
  if (nearest === 0) return out.fill(Number.NaN);
  const block = Math.min(centroidBlockRows, k);
  const sims = new Float32Array(block * k);
  const best = new Float64Array(nearest);
  for (let r0 = 0; r0 < k; r0 += block) {
    const rows = Math.min(block, k - r0);
    matmulTransposed(centroids.subarray(r0 * dims, (r0 + rows) * dims), rows, centroids, k, dims, sims);
    for (let r = 0; r < rows; r++) {
      const self = r0 + r;
      let count = 0;
      for (let i = 0; i < k; i++) {
        if (i === self) continue;
        const dist = 1 - (sims[r * k + i] as number);
        if (count === nearest && dist >= (best[nearest - 1] as number)) continue;
        let at = count < nearest ? count++ : nearest - 1;
        while (at > 0 && (best[at - 1] as number) > dist) {
          best[at] = best[at - 1] as number;
          at--;
        }
        best[at] = dist;
      }
      let sum = 0;
      for (let q = 0; q < nearest; q++) sum += best[q] as number;
      out[self] = sum / nearest;
    }
  }
  return out;
}
