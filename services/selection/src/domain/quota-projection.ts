import { invalidArgument } from './parameter-checks.js';

/** The continuous solution of a budgeted box projection. */
export interface BoxProjection {
  /** x_j = clip(target_j + shift, lo_j, hi_j); Σ x_j = budget up to float rounding. */
  values: Float64Array;
  /** The shift λ. */
  shift: number;
}

/**
 * Euclidean projection of `target` onto { x : Σx = budget, lo ≤ x ≤ hi }, i.e. the minimiser of
 * ‖x − target‖² on that set (the per-cluster quota problem of density-based pruning, Abbas et al. 2024).
 *
 * The KKT conditions give x_j = clip(target_j + λ, lo_j, hi_j) for one shift λ, and g(λ) = Σ x_j(λ) is
 * continuous, non-decreasing and piecewise linear with kinks only at the 2k breakpoints lo_j − target_j and
 * hi_j − target_j. So instead of bisecting λ to a tolerance, bisection runs over the sorted breakpoints to
 * find the linear piece where g crosses the budget, and λ is solved on that piece in closed form: the
 * answer is exact up to float rounding, in O(k log k).
 *
 * Throws `invalid_argument` naming `budget` when it lies outside [Σlo, Σhi] (no feasible x).
 */
export function projectOntoBudget(
  target: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  budget: number,
): BoxProjection {
  const k = target.length;
  let sumLo = 0;
  let sumHi = 0;
  for (let j = 0; j < k; j++) {
    if ((lo[j] as number) > (hi[j] as number)) throw invalidArgument(`lo[${j}]`, `exceeds hi[${j}]`);
    sumLo += lo[j] as number;
    sumHi += hi[j] as number;
  }
  if (!(budget >= sumLo && budget <= sumHi)) {
    throw invalidArgument(
      'budget',
      `${budget} is infeasible: the per-cluster bounds allow totals between ${sumLo} and ${sumHi}`,
    );
  }
  const values = new Float64Array(k);
  if (k === 0) return { values, shift: 0 };

  const clipSum = (shift: number) => {
    let s = 0;
    for (let j = 0; j < k; j++) {
      s += Math.min(hi[j] as number, Math.max(lo[j] as number, (target[j] as number) + shift));
    }
    return s;
  };
  const breaks = new Float64Array(2 * k);
  for (let j = 0; j < k; j++) {
    breaks[2 * j] = (lo[j] as number) - (target[j] as number);
    breaks[2 * j + 1] = (hi[j] as number) - (target[j] as number);
  }
  breaks.sort();

  // Invariant: g(breaks[a]) <= budget < g(breaks[b]); g(breaks[0]) = Σlo and g(breaks[last]) = Σhi.
  let shift: number;
  const last = breaks.length - 1;
  if (clipSum(breaks[last] as number) <= budget) {
    shift = breaks[last] as number;
  } else {
    let a = 0;
    let b = last;
    while (b - a > 1) {
      const mid = (a + b) >>> 1;
      if (clipSum(breaks[mid] as number) <= budget) a = mid;
      else b = mid;
    }
    const la = breaks[a] as number;
    const lb = breaks[b] as number;
    const ga = clipSum(la);
    const gb = clipSum(lb);
    // g is linear on [la, lb], so interpolation is the exact root there.
    shift = ga === budget ? la : la + ((budget - ga) * (lb - la)) / (gb - ga);
  }
  for (let j = 0; j < k; j++) {
    values[j] = Math.min(hi[j] as number, Math.max(lo[j] as number, (target[j] as number) + shift));
  }
  return { values, shift };
}

/**
 * Integer quotas from a continuous solution, with Σ = budget exactly and lo ≤ q ≤ hi (lo and hi
 * integers): the largest-remainder (Hamilton) method. Every quota starts at ⌊x_j⌋ and the units still
 * missing go one each to the largest fractional parts, ties to the lower cluster index. Each quota is
 * thus ⌊x_j⌋ or ⌈x_j⌉, within one record of the exact solution. Values within 1e-9 of an integer are
 * snapped first so float noise (2.9999999999) does not cost a cluster a record.
 */
export function roundToBudget(
  values: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  budget: number,
): Int32Array {
  const k = values.length;
  const quotas = new Int32Array(k);
  const remainder = new Float64Array(k);
  let missing = budget;
  for (let j = 0; j < k; j++) {
    const v = values[j] as number;
    const snapped = Math.abs(v - Math.round(v)) < 1e-9 ? Math.round(v) : v;
    const q = Math.min(hi[j] as number, Math.max(lo[j] as number, Math.floor(snapped)));
    quotas[j] = q;
    remainder[j] = snapped - q;
    missing -= q;
  }
  // Normally one pass hands out every missing unit; the loops also repair a sum that float rounding left
  // off by more, always moving the clusters nearest to their next integer first.
  const byRemainder = Int32Array.from({ length: k }, (_, j) => j).sort(
    (a, b) => (remainder[b] as number) - (remainder[a] as number) || a - b,
  );
  while (missing > 0) {
    let moved = false;
    for (const j of byRemainder) {
      if (missing === 0) break;
      if ((quotas[j] as number) < (hi[j] as number)) {
        quotas[j] = (quotas[j] as number) + 1;
        missing--;
        moved = true;
      }
    }
    if (!moved) throw invalidArgument('budget', `${budget} exceeds the sum of the upper bounds`);
  }
  while (missing < 0) {
    let moved = false;
    for (let i = k - 1; i >= 0 && missing < 0; i--) {
      const j = byRemainder[i] as number;
      if ((quotas[j] as number) > (lo[j] as number)) {
        quotas[j] = (quotas[j] as number) - 1;
        missing++;
        moved = true;
      }
    }
    if (!moved) throw invalidArgument('budget', `${budget} is below the sum of the lower bounds`);
  }
  return quotas;
}
