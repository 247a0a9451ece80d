import type { selectionV1 } from '@sift/contracts';
import { defaultSmallClusterShare } from '../../domain/index.js';
import { inRange, intIn } from './fields.js';

/** SCIP (synthetic-corruption-informed pruning of code) with its defaults filled in. */
export interface ResolvedScip {
  kind: 'scip';
  pruneFraction: number;
  smallClusterShare: number;
  corruptionReport: boolean;
  corruptionSamples: number;
  seed: number;
}

/** Files the corruption report corrupts and places when the step sets no sample size. */
const defaultCorruptionSamples = 200;

/** Resolves a scip step; `field` names it in errors (`steps[i].scip`). */
export function resolveScip(v: selectionV1.ScipStep, field: string): ResolvedScip {
  return {
    kind: 'scip',
    pruneFraction: inRange(v.pruneFraction, 0, 1, `${field}.prune_fraction`),
    // The contract reads 0 as "unset": the default split gives half the budget to small clusters.
    smallClusterShare:
      v.smallClusterShare === 0
        ? defaultSmallClusterShare
        : inRange(v.smallClusterShare, 0, 1, `${field}.small_cluster_share`, true),
    corruptionReport: v.corruptionReport,
    corruptionSamples: intIn(
      v.corruptionSamples || defaultCorruptionSamples,
      1,
      100_000,
      `${field}.corruption_samples`,
    ),
    seed: v.seed,
  };
}
