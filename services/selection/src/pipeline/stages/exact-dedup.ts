import { loadExactIndex, saveExactIndex } from '../../adapters/dedup-index-files.js';
import { exactDedupSteps, exactIndexOf } from '../../domain/index.js';
import { runCooperatively } from '../cooperative.js';
import { aliveIndices, type PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { dropDuplicates } from './duplicate-drops.js';
import type { StageContext, StageFacts } from './stage-context.js';

/** Drops exact duplicates (after normalization) among the alive records and those of the loaded indexes. */
export async function exactDedupStage(
  step: StepOf<'exact-dedup'>,
  state: PipelineState,
  ctx: StageContext,
): Promise<StageFacts> {
  const alive = aliveIndices(state);
  const texts = Array.from(alive, (i) => state.texts[i] as string);
  const ids = Array.from(alive, (i) => state.ids[i] as string);
  const index = step.index.load.length > 0 ? await loadExactIndex(step.index.load) : undefined;
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
