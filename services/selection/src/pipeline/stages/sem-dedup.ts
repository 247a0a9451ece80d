import { semDedup } from '../../domain/index.js';
import { aliveIndices, type PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside, recordClusterDecisions } from './clustered-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/** Drops semantic duplicates within each cluster (SemDeDup) and reports how many each swept eps would drop. */
export async function semDedupStage(
  step: StepOf<'sem-dedup'>,
  state: PipelineState,
  ctx: StageContext,
): Promise<StageFacts> {
  const input = clusteredAlive(state, aliveIndices(state));
  const r = await semDedup(input, {
    eps: step.eps,
    sweepEps: step.reportEps,
    keep: step.keep,
    comparison: step.comparison,
    seed: step.seed,
    blockRows: step.blockRows,
    product: ctx.kernels.tileProduct,
    signal: ctx.signal,
    onProgress: ctx.progress,
  });
  recordClusterDecisions(state, input, step.name, {
    kept: r.kept,
    score: r.similarity,
    reason: 'semantic-duplicate',
    duplicateOf: r.duplicateOf,
  });
  return {
    epsSweep: r.sweep.map((p) => ({ eps: p.eps, wouldDrop: p.removed })),
    facts: { eps: step.eps, removed: r.removed, ...keptAside(input.unplaced) },
  };
}
