import { semDedup } from '../../domain/index.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside } from './clustered-records.js';
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
  input.records.forEach((rec, row) => {
    if (r.kept[row]) {
      scoreKept(state, rec, step.name, r.similarity[row] as number);
      return;
    }
    const dup = r.duplicateOf[row] as number;
    drop(state, rec, {
      stage: step.name,
      reason: 'semantic-duplicate',
      cluster: input.labels[row] as number,
      score: r.similarity[row] as number,
      ...(dup >= 0 ? { duplicateOf: input.records[dup] as number } : {}),
    });
  });
  return {
    epsSweep: r.sweep.map((p) => ({ eps: p.eps, wouldDrop: p.removed })),
    facts: { eps: step.eps, removed: r.removed, ...keptAside(input.unplaced) },
  };
}
