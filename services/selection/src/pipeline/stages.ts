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
import type { ResolvedStep } from './steps.js';

export type { StageContext } from './stages/stage-context.js';

/**
 * Runs one step on the alive records and records drops with their reasons. Steps see only the records
 * earlier steps kept; embedding-space steps use the latest clustering restricted to those records. Each
 * kind's stage is in stages/<kind>.ts (its parameters and their defaults in steps/<kind>.ts).
 */
export async function runStage(step: ResolvedStep, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  switch (step.kind) {
    case 'exact-dedup':
      return exactDedupStage(step, state, ctx);
    case 'minhash-dedup':
      return minHashDedupStage(step, state, ctx);
    case 'embed':
      return embedStage(step, state, ctx);
    case 'kmeans':
      return kmeansStage(step, state, ctx);
    case 'sem-dedup':
      return semDedupStage(step, state, ctx);
    case 'ssl-prototypes':
      return sslPrototypesStage(step, state, ctx);
    case 'd4':
      return d4Stage(step, state, ctx);
    case 'long-file-pruning':
      return longFilePruningStage(step, state, ctx);
    case 'scip':
      return scipStage(step, state, ctx);
    case 'text-quality':
      return textQualityStage(step, state, ctx);
    case 'density-pruning':
      return densityPruningStage(step, state, ctx);
  }
}
