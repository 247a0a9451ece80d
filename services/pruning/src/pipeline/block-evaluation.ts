import { pruningV1 } from '@sift/contracts';
import type { JobCheckpoints } from '@sift/jobs';
import { SiftError } from '@sift/kit';
import { encodeOnnxModel, removeBlock } from '../adapters/onnx-graph.js';
import { blockEvaluationCodec, metricsCodec } from './checkpoint-codecs.js';
import type { DecoderModel } from './decoder-model.js';
import { checkEvaluationTexts, evaluationSettings, modelMetrics } from './evaluation.js';
import { type HealingContext, heal } from './healing.js';
import { loadCorpus } from './text-corpus.js';

/** The loss table of an analysis: the source model and every l*(n) removed, unhealed and healed. */
export interface BlockLossTable {
  readonly sourceMetrics: pruningV1.ModelMetrics;
  readonly blockEvaluations: pruningV1.BlockEvaluation[];
}

/**
 * Removes each chosen block l*(n) in turn (in memory; nothing is stored) and measures the result on the
 * analysis's evaluation texts, healed too when the spec asks for it: the "loss against layers removed"
 * table that tells an engineer how deep a cut the model tolerates before committing to one.
 */
export async function evaluateBestBlocks(
  decoder: DecoderModel,
  spec: pruningV1.AnalysisSpec,
  best: readonly pruningV1.BlockChoice[],
  ctx: HealingContext & { signal: AbortSignal; checkpoints: JobCheckpoints },
): Promise<BlockLossTable> {
  const texts = await loadCorpus(spec.evaluation?.texts, 'evaluation.texts');
  const settings = evaluationSettings(spec.evaluation, spec.calibration, decoder.contextLength, 'evaluation');
  checkEvaluationTexts(texts, settings.sequenceLength, decoder.codec, 'evaluation.texts');
  // Every model call of row `row` ticks (rows done so far): the tick is what notices a cancel mid-row.
  const opts = (row: number) => ({
    ...settings,
    codec: decoder.codec,
    runtime: ctx.runtime,
    signal: ctx.signal,
    onProgress: () => ctx.tick(row, best.length),
  });
  const healed = spec.healing?.method === pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES;
  const L = decoder.layerCount;
  ctx.stage('evaluate', 'block sizes');
  // Each row is saved as it is measured: a redelivered job measures only the rows it had not finished.
  const sourceMetrics = await ctx.checkpoints.once('source-metrics.json', metricsCodec(L), () =>
    modelMetrics(decoder.bytes, decoder.graph, L, texts, opts(0)),
  );
  const blockEvaluations: pruningV1.BlockEvaluation[] = [];
  for (const [i, block] of best.entries()) {
    ctx.stage('evaluate', 'block sizes');
    ctx.tick(i, best.length);
    const { startLayer: start, blockSize: n } = block;
    const row = await ctx.checkpoints.once(`block-${start}-${n}.json`, blockEvaluationCodec, async () => {
      let pruned: ReturnType<typeof removeBlock>;
      try {
        pruned = removeBlock(decoder.graph, start, n, decoder.boundaries);
      } catch (err) {
        // One block that the graph does not let go of is a finding of the table, not a failed analysis.
        if (!(err instanceof SiftError) || err.kind !== 'invalid_argument') throw err;
        return pruningV1.BlockEvaluation.fromPartial({ block, notCut: err.message });
      }
      const unhealed = await modelMetrics(encodeOnnxModel(pruned.model), pruned.model, L - n, texts, opts(i));
      let healing: pruningV1.HealingSpec | undefined;
      let healedMetrics: pruningV1.ModelMetrics | undefined;
      if (healed) {
        const outcome = await heal(decoder, spec.calibration, spec.healing, pruned, start, n, ctx);
        healing = outcome.spec;
        healedMetrics = await modelMetrics(encodeOnnxModel(outcome.model), outcome.model, L - n, texts, opts(i));
      }
      return { block, unhealed, healed: healedMetrics, healing, notCut: '' };
    });
    blockEvaluations.push(row);
  }
  return { sourceMetrics, blockEvaluations };
}
