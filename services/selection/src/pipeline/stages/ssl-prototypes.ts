import { sslPrototypes } from '../../domain/index.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside } from './clustered-records.js';
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
  input.records.forEach((rec, row) => {
    if (r.kept[row]) {
      scoreKept(state, rec, step.name, r.scores[row] as number);
      return;
    }
    drop(state, rec, {
      stage: step.name,
      reason: step.drop === 'hardest' ? 'too-hard' : 'prototypical',
      cluster: input.labels[row] as number,
      score: r.scores[row] as number,
    });
  });
  return { facts: { keepCount: r.keepCount, ...keptAside(input.unplaced) } };
}
