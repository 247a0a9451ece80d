import { scipDropReason, scipPrune } from '../../domain/index.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside } from './clustered-records.js';
import { corruptionReport } from './scip-corruption-report.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * SCIP: drops whole small clusters and the files farthest from their centroid, and, when asked, reports how far
 * synthetically corrupted copies of sampled files move in the clustering.
 */
export async function scipStage(step: StepOf<'scip'>, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  const input = clusteredAlive(state, aliveIndices(state));
  const r = scipPrune(input, { pruneFraction: step.pruneFraction, smallClusterShare: step.smallClusterShare });
  input.records.forEach((rec, row) => {
    const reason = scipDropReason(r, row);
    if (!reason) {
      scoreKept(state, rec, step.name, r.score[row] as number);
      return;
    }
    drop(state, rec, {
      stage: step.name,
      reason,
      cluster: input.labels[row] as number,
      score: r.score[row] as number,
    });
  });
  const report = step.corruptionReport ? await corruptionReport(state, input, step, ctx) : undefined;
  return {
    facts: {
      budget: r.budget,
      droppedClusters: r.droppedClusters.length,
      ...keptAside(input.unplaced),
      ...(report ? { corruption: report } : {}),
    },
  };
}
