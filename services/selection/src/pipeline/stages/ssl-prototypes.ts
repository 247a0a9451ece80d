import { sslPrototypes } from '../../domain/index.js';
import { aliveIndices, type PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside, recordClusterDecisions } from './clustered-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * SSL prototypes: ranks the clustered records by distance to their centroid and drops one end (the most
 * prototypical or the hardest), keeping `keepFraction`.
 */
export async function sslPrototypesStage(
  step: StepOf<'ssl-prototypes'>,
  state: PipelineState,
  _ctx: StageContext,
): Promise<StageFacts> {
  const input = clusteredAlive(state, aliveIndices(state));
  const r = sslPrototypes(input, { keepFraction: step.keepFraction, drop: step.drop });
  recordClusterDecisions(state, input, step.name, {
    kept: r.kept,
    score: r.scores,
    reason: step.drop === 'hardest' ? 'too-hard' : 'prototypical',
  });
  return { facts: { keepCount: r.keepCount, ...keptAside(input.unplaced) } };
}
