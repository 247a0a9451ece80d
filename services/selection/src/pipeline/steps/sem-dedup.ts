import { selectionV1 } from '@sift/contracts';
import { requireKnownEnum } from '@sift/kit';
import { defaultSemDedupBlockRows } from '../../domain/index.js';
import { inRange, intIn } from './fields.js';

/** Which record of a semantic-duplicate group stays (SemDeDup's and D4's keep rule). */
export type SemDedupKeepRule = 'hardest' | 'easiest' | 'random';

/** SemDeDup within each cluster, with its defaults filled in. */
export interface ResolvedSemDedup {
  kind: 'sem-dedup';
  eps: number;
  reportEps: number[];
  keep: SemDedupKeepRule;
  comparison: 'all-earlier' | 'kept-only';
  seed: number;
  blockRows: number;
}

/** The eps values whose drop counts the report shows when the step names none. */
const defaultReportEps = [0.01, 0.02, 0.05, 0.1];

/** Resolves a sem_dedup step; `field` names it in errors (`steps[i].sem_dedup`). */
export function resolveSemDedup(v: selectionV1.SemDedupStep, field: string): ResolvedSemDedup {
  return {
    kind: 'sem-dedup',
    // The contract makes eps required: which near-duplicates go is the user's call, not a default's.
    eps: inRange(v.eps, 0, 1, `${field}.eps`),
    reportEps: (v.reportEps.length ? v.reportEps : defaultReportEps).map((e, j) =>
      inRange(e, 0, 1, `${field}.report_eps[${j}]`),
    ),
    keep: semDedupKeepOf(v.keep, `${field}.keep`),
    comparison:
      requireKnownEnum(v.comparison, selectionV1.SemDedupComparison, `${field}.comparison`) ===
      selectionV1.SemDedupComparison.SEM_DEDUP_COMPARISON_KEPT_ONLY
        ? 'kept-only'
        : 'all-earlier',
    seed: v.seed,
    blockRows: intIn(v.blockRows || defaultSemDedupBlockRows, 16, 65536, `${field}.block_rows`),
  };
}

/** The contract's SemDedupKeep as the domain names it; unspecified keeps the hardest. */
export function semDedupKeepOf(v: selectionV1.SemDedupKeep, field: string): SemDedupKeepRule {
  requireKnownEnum(v, selectionV1.SemDedupKeep, field);
  return v === selectionV1.SemDedupKeep.SEM_DEDUP_KEEP_EASIEST
    ? 'easiest'
    : v === selectionV1.SemDedupKeep.SEM_DEDUP_KEEP_RANDOM
      ? 'random'
      : 'hardest';
}
