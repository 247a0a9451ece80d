/** Rank statistics for small samples (a few thousand values): mean ranks and Spearman's rank correlation. */

/**
 * Ranks 1..n of `values` in ascending order; tied values share the mean of the ranks they span (values
 * 10, 20, 20, 30 get 1, 2.5, 2.5, 4). The ranks always sum to n(n + 1) / 2, ties or not. Equality is `===`,
 * so NaN values are not meaningful here.
 */
export function meanRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from(values, (v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Float64Array(order.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as readonly [number, number])[0] === order[i]?.[0]) j++;
    // Positions i..j (0-based) are one run of equal values: each gets the mean of the ranks i+1..j+1.
    for (let k = i; k <= j; k++) ranks[(order[k] as readonly [number, number])[1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

/**
 * Spearman's rank correlation ρ of two paired samples: the Pearson correlation of their {@link meanRanks}
 * (Spearman 1904; with mean ranks for ties this is the usual tie-corrected ρ, not 1 − 6Σd² / (n(n² − 1)),
 * which is exact only without ties). 1 when `y` rises with `x`, −1 when it falls; NaN when either sample is
 * constant or empty.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`spearman needs paired samples, got ${x.length} and ${y.length}`);
  const rx = meanRanks(x);
  const ry = meanRanks(y);
  const mean = (r: Float64Array) => r.reduce((s, v) => s + v, 0) / r.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    const dx = (rx[i] as number) - mx;
    const dy = (ry[i] as number) - my;
    sxy += dx * dy;
    sxx += dx ** 2;
    syy += dy ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}
