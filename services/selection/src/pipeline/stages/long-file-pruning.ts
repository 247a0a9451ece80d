import { codeTokenCount, longFilePruning } from '../../domain/index.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from '../state.js';
import type { StepOf } from '../steps.js';
import type { StageContext, StageFacts } from './stage-context.js';

/** Drops the longest files, by token share or above a token count; a kept file's score is its length. */
export async function longFilePruningStage(
  step: StepOf<'long-file-pruning'>,
  state: PipelineState,
  _ctx: StageContext,
): Promise<StageFacts> {
  const alive = aliveIndices(state);
  const counts = Int32Array.from(alive, (i) =>
    step.tokenizer === 'utf8-bytes'
      ? Buffer.byteLength(state.texts[i] as string)
      : codeTokenCount(state.texts[i] as string),
  );
  const r = longFilePruning(counts, step.tokenShare ? { tokenShare: step.tokenShare } : { maxTokens: step.maxTokens });
  alive.forEach((rec, row) => {
    if (r.kept[row]) scoreKept(state, rec, step.name, counts[row] as number);
    else drop(state, rec, { stage: step.name, reason: 'long-file', score: counts[row] as number });
  });
  return {
    facts: {
      totalTokens: r.totalTokens,
      removedTokens: r.removedTokens,
      removedShare: r.removedShare,
      threshold: r.threshold,
    },
  };
}
