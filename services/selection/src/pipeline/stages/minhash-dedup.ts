import { loadMinHashIndex, saveMinHashIndex } from '../../adapters/dedup-index-files.js';
import { minHashDedupSteps, minHashIndexOf } from '../../domain/index.js';
import { runCooperatively } from '../cooperative.js';
import type { PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import { dedupRecords, dropDuplicates } from './dedup-records.js';
import type { StageContext, StageFacts } from './stage-context.js';

/** Drops near duplicates (MinHash LSH) among the alive records and those of the loaded indexes. */
export async function minHashDedupStage(
  step: StepOf<'minhash-dedup'>,
  state: PipelineState,
  ctx: StageContext,
): Promise<StageFacts> {
  const { alive, texts, ids, index } = await dedupRecords(state, step.index, loadMinHashIndex);
  const r = await runCooperatively(
    minHashDedupSteps(texts, {
      normalization: step.normalization,
      shingleUnit: step.shingleUnit,
      ngramSize: step.ngramSize,
      numPermutations: step.numPermutations,
      seed: step.seed,
      threshold: step.threshold,
      ...(step.bands ? { bands: step.bands } : {}),
      verifyCandidates: step.verifyCandidates,
      keep: step.keep,
      ids,
      ...(index ? { index } : {}),
    }),
    ctx.progress,
  );
  dropDuplicates(state, alive, r, step.name, 'near-duplicate', r.jaccard);
  if (step.index.save) await saveMinHashIndex(step.index.save, minHashIndexOf(r, ids));
  return {
    facts: {
      bands: r.bands,
      rows: r.rows,
      candidatePairs: r.candidatePairs,
      indexSaved: step.index.save || undefined,
    },
  };
}
