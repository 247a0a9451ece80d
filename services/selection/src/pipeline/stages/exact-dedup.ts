import { loadExactIndex, saveExactIndex } from '../../adapters/dedup-index-files.js';
import { exactDedupSteps, exactIndexOf } from '../../domain/index.js';
import { runCooperatively } from '../cooperative.js';
import type { PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { dedupRecords, dropDuplicates } from './dedup-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/** Drops exact duplicates (after normalization) among the alive records and those of the loaded indexes. */
export async function exactDedupStage(
  step: StepOf<'exact-dedup'>,
  state: PipelineState,
  ctx: StageContext,
): Promise<StageFacts> {
  const { alive, texts, ids, index } = await dedupRecords(state, step.index, loadExactIndex);
  const r = await runCooperatively(
    exactDedupSteps(texts, {
      normalization: step.normalization,
      keep: step.keep,
      ids,
      ...(index ? { index } : {}),
    }),
    ctx.progress,
  );
  dropDuplicates(state, alive, r, step.name, 'exact-duplicate');
  if (step.index.save) await saveExactIndex(step.index.save, exactIndexOf(r, ids));
  return { facts: { removed: r.removed, indexSaved: step.index.save || undefined } };
}
