import { d4Stage } from './stages/d4.js';
import { densityPruningStage } from './stages/density-pruning.js';
import { embedStage } from './stages/embed.js';
import { exactDedupStage } from './stages/exact-dedup.js';
import { kmeansStage } from './stages/kmeans.js';
import { longFilePruningStage } from './stages/long-file-pruning.js';
import { minHashDedupStage } from './stages/minhash-dedup.js';
import { scipStage } from './stages/scip.js';
import { semDedupStage } from './stages/sem-dedup.js';
import { sslPrototypesStage } from './stages/ssl-prototypes.js';
import type { StageContext, StageFacts } from './stages/stage-context.js';
import { textQualityStage } from './stages/text-quality.js';
import type { PipelineState } from './state.js';
import type { ResolvedStep, StepOf } from './steps.js';

export type { StageContext } from './stages/stage-context.js';

/** A stage: runs its kind of step on the state, returns the facts for the report. */
type Stage<K extends ResolvedStep['kind']> = (
  step: StepOf<K>,
  state: PipelineState,
  ctx: StageContext,
) => Promise<StageFacts>;

/** Each step kind's stage, in stages/<kind>.ts (its parameters and their defaults are in steps/<kind>.ts). */
const stageOfKind: { [K in ResolvedStep['kind']]: Stage<K> } = {
  'exact-dedup': exactDedupStage,
  'minhash-dedup': minHashDedupStage,
  embed: embedStage,
  kmeans: kmeansStage,
  'sem-dedup': semDedupStage,
  'ssl-prototypes': sslPrototypesStage,
  d4: d4Stage,
  'long-file-pruning': longFilePruningStage,
  scip: scipStage,
  'text-quality': textQualityStage,
  'density-pruning': densityPruningStage,
};

/**
 * What each kind's progress ticks count, shown with them to a job's watchers; empty for the kinds that do
 * not tick (their work is one quick pass over the clustering). Text quality counts perplexity evaluations
 * first and says so itself.
 */
const unitOfKind: { [K in ResolvedStep['kind']]: string } = {
  'exact-dedup': 'records',
  'minhash-dedup': 'records',
  embed: 'records',
  kmeans: 'iterations',
  'sem-dedup': 'records',
  'ssl-prototypes': '',
  d4: '',
  'long-file-pruning': '',
  scip: '',
  'text-quality': 'documents',
  'density-pruning': '',
};

export function progressUnitOf(kind: ResolvedStep['kind']): string {
  return unitOfKind[kind];
}

/**
 * Runs one step on the alive records and records drops with their reasons. Steps see only the records
 * earlier steps kept; embedding-space steps use the latest clustering restricted to those records.
 */
export async function runStage(step: ResolvedStep, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  // The table pairs each kind with its own stage, so the step always has the type its stage takes.
  const stage = stageOfKind[step.kind] as Stage<ResolvedStep['kind']>;
  return stage(step, state, ctx);
}
