import { d4 } from '../../domain/index.js';
import { clusterSizeHistogram } from '../report.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from '../state.js';
import type { StepOf } from '../steps.js';
import { clusteredAlive, keptAside } from './clustered-records.js';
import { clusterRows } from './kmeans.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * D4: SemDeDup within the clusters, a re-clustering of what it kept, then SSL prototypes within the new
 * clusters. Each drop names its sub-stage (`<step>/sem-dedup`, `<step>/ssl-prototypes`).
 */
export async function d4Stage(step: StepOf<'d4'>, state: PipelineState, ctx: StageContext): Promise<StageFacts> {
  const input = clusteredAlive(state, aliveIndices(state));
  const r = await d4(
    input,
    {
      dedupRatio: step.dedupRatio,
      keepRatio: step.keepRatio,
      reclusterK: step.recluster.k,
      seed: step.recluster.seed,
      dedupKeep: step.dedupKeep,
      prototypeDrop: step.prototypeDrop,
      product: ctx.kernels.tileProduct,
    },
    (x, d, k, seed) =>
      clusterRows(x, d, { ...step.recluster, k, seed }, { assign: ctx.kernels.assign, signal: ctx.signal }),
  );
  input.records.forEach((rec, row) => {
    if (r.kept[row]) {
      scoreKept(state, rec, `${step.name}/ssl-prototypes`, r.prototypeScore[row] as number);
      return;
    }
    const reason = r.reason[row];
    const dup = r.duplicateOf[row] as number;
    drop(state, rec, {
      stage: `${step.name}/${r.stage[row]}`,
      reason:
        reason === 'semantic-duplicate' ? 'semantic-duplicate' : reason === 'too-hard' ? 'too-hard' : 'prototypical',
      cluster: input.labels[row] as number,
      score: reason === 'semantic-duplicate' ? (r.maxSimilarity[row] as number) : (r.prototypeScore[row] as number),
      ...(dup >= 0 ? { duplicateOf: input.records[dup] as number } : {}),
    });
  });
  return {
    clusterSizes: clusterSizeHistogram(r.recluster.labels, r.recluster.k),
    facts: {
      dedupKeepCount: r.dedupKeepCount,
      dedupCutoff: r.dedupCutoff,
      keepCount: r.keepCount,
      ...keptAside(input.unplaced),
    },
  };
}
