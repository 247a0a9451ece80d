import { SiftError } from '@sift/kit';
import { qualityFilters, textQuality } from '../../domain/index.js';
import { runCooperatively } from '../cooperative.js';
import { aliveIndices, drop, type PipelineState, scoreKept } from '../state.js';
import type { StepOf } from '../steps.js';
import type { StageContext, StageFacts } from './stage-context.js';

/**
 * Scores each alive document by its lines' quality filters, weighted by how much each filter lowers a
 * language model's perplexity per byte on a sample, and keeps the best-scored fraction.
 */
export async function textQualityStage(
  step: StepOf<'text-quality'>,
  state: PipelineState,
  ctx: StageContext,
): Promise<StageFacts> {
  const alive = aliveIndices(state);
  if (!ctx.languageModels) throw new SiftError('unavailable', 'text-quality needs the model store (SIFT_MODELS_DIR)');
  const models = ctx.languageModels;
  const texts = Array.from(alive, (i) => state.texts[i] as string);
  const filters = qualityFilters(step.filters);
  // The weights take one perplexity per filter plus one over all sample lines: progress counts those
  // calls, then the documents scored (the job's ETA restarts when the total changes).
  let calls = 0;
  const evaluations = 'perplexity evaluations';
  ctx.progress(0, filters.length + 1, evaluations);
  const r = await textQuality(texts, {
    keepFraction: step.keepFraction,
    filters,
    weightSampleSize: step.weightSampleSize,
    seed: step.seed,
    perplexity: async (lines) => {
      const ppl = await models.perplexity({ name: step.model, version: step.version }, [lines.join('\n')], ctx.signal);
      ctx.progress(++calls, filters.length + 1, evaluations);
      return ppl;
    },
    runSteps: (steps) => runCooperatively(steps, (done, total) => ctx.progress(done, total, 'documents')),
  });
  alive.forEach((rec, row) => {
    const score = r.docScores[row] as number;
    if (r.kept[row]) scoreKept(state, rec, step.name, score);
    else drop(state, rec, { stage: step.name, reason: 'low-quality', score });
  });
  return {
    facts: {
      model: step.model,
      pplAll: r.pplAll,
      weights: Object.fromEntries(r.filters.map((f, i) => [f, { weight: r.weights[i], ppl: r.pplPerFilter[i] }])),
      fallbackToEqualWeights: r.fallbackToEqualWeights,
    },
  };
}
