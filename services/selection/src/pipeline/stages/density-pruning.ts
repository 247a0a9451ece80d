import { densityPruning } from '../../domain/index.js';
import { aliveIndices, type PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside, recordClusterDecisions } from './clustered-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * Density-based pruning (DBP): gives each cluster a quota from a softmax of its complexity at `temperature`,
 * floored at `minQuotaFactor` of the even share, and keeps each cluster's records farthest from its centroid.
 */
export async function densityPruningStage(
  step: StepOf<'density-pruning'>,
  state: PipelineState,
  _ctx: StageContext,
): Promise<StageFacts> {
  const input = clusteredAlive(state, aliveIndices(state));
  const r = densityPruning(input, {
    ...(step.keepCount
      ? { keepCount: Math.min(step.keepCount, input.records.length) }
      : { keepFraction: step.keepFraction }),
    temperature: step.temperature,
    nearestCentroids: step.nearestCentroids,
    minQuotaFactor: step.minQuotaFactor,
  });
  recordClusterDecisions(state, input, step.name, {
    kept: r.kept,
    score: r.centroidDistance,
    reason: 'density-quota',
  });
  return {
    facts: { budget: r.budget, minQuota: r.minQuota, quotas: Array.from(r.quotas), ...keptAside(input.unplaced) },
  };
}
