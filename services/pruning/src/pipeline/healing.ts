import { pruningV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { inlineTensors } from '../adapters/onnx-external-data.js';
import {
  encodeOnnxModel,
  exposeOutputs,
  findOutputProjection,
  foldLinearMap,
  insertLinearMap,
  type OnnxModel,
  type PrunedGraph,
} from '../adapters/onnx-graph.js';
import { BlockBridgeFit, RidgeAccumulator } from '../domain/least-squares.js';
import { loadCalibration, openJobSession, type PruningRuntime } from './analysis.js';
import { forEachTokenBatch, type TokenBatch, tokenSequences } from './calibration.js';
import type { DecoderModel } from './decoder-model.js';

/** The contract's default ridge strength, relative to the mean diagonal of MᵀM. */
export const defaultRidgeAlpha = 1e-3;

/** What healing needs from a job: stage changes, progress ticks (which throw on cancel), its runtime. */
export interface HealingContext {
  readonly runtime: PruningRuntime;
  /** Enters a stage; `unit` says what its ticks count (plural, e.g. "batches"). */
  stage(name: string, unit?: string): void;
  tick(done: number, total: number): void;
}

export interface HealingOutcome {
  readonly model: OnnxModel;
  /** What was done, as the result reports it. */
  readonly spec: pruningV1.HealingSpec;
}

/**
 * ReplaceMe's least-squares bridge of the cut, fitted on the calibration texts. Folded into the output
 * projection of layer start − 1 when the graph has one (x^start = Y + M, fit M T ≈ x^(start+n) − Y, W ← W T),
 * otherwise (start 0, or an unrecognised pattern) inserted as a MatMul x^start T ≈ x^(start+n), unless the
 * spec insists on folding.
 */
export async function heal(
  decoder: DecoderModel,
  calibration: pruningV1.CalibrationSpec | undefined,
  healing: pruningV1.HealingSpec | undefined,
  pruned: PrunedGraph,
  start: number,
  n: number,
  ctx: HealingContext,
): Promise<HealingOutcome> {
  const requested = healing?.placement ?? pruningV1.HealingPlacement.HEALING_PLACEMENT_UNSPECIFIED;
  const search =
    requested === pruningV1.HealingPlacement.HEALING_PLACEMENT_INSERT
      ? ({ found: false, reason: 'insertion was asked for' } as const)
      : findOutputProjection(pruned.model, pruned.bridgedTensor);
  if (!search.found && requested === pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD) {
    throw new SiftError(
      'failed_precondition',
      `healing.placement FOLD: no projection to fold into before layer ${start}: ${search.reason}; ` +
        'use HEALING_PLACEMENT_INSERT or leave it unspecified',
    );
  }
  const after = decoder.boundaries.tensors[start + n] as string;
  const tensors = search.found
    ? [search.projection.projection, search.projection.residual, after]
    : [pruned.bridgedTensor, after];
  ctx.stage('heal', 'batches');
  const limit = healing?.maxTokens || Number.POSITIVE_INFINITY;
  const ridgeAlpha = healing?.ridgeAlpha || defaultRidgeAlpha;
  // The fit keeps only MᵀM and MᵀY (float64, d² each): activations stream through one batch at a time.
  let dim = 0;
  let rows = 0;
  let fold: RidgeAccumulator | undefined;
  let bridge: BlockBridgeFit | undefined;
  await forEachCalibrationBatch(decoder, calibration, tensors, ctx, (batch) => {
    if (dim === 0) {
      dim = batch.dim;
      if (search.found) fold = new RidgeAccumulator(dim, dim);
      else bridge = new BlockBridgeFit(dim);
    }
    const take = Math.min(batch.count, limit - rows);
    if (fold) {
      // Rows M, Y, L. Target L − Y: what the projection must produce for x^start to stand in for x^(start+n).
      const [m, y, l] = batch.rows as [Float32Array, Float32Array, Float32Array];
      const target = l.slice(0, take * dim);
      for (let i = 0; i < target.length; i++) target[i]! -= y[i]!;
      fold.add(m, target, take);
    } else {
      // Rows x^start, x^(start+n).
      const [x, l] = batch.rows as [Float32Array, Float32Array];
      bridge?.add(x, l, take);
    }
    rows += take;
    return rows < limit;
  });
  const common = {
    method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES,
    ridgeAlpha,
    maxTokens: rows,
  };
  if (fold && search.found) {
    const t = fold.solve({ alpha: ridgeAlpha });
    // The projection's weights are read (and replaced): from the source's data file when stored there.
    const { weight, bias } = search.projection;
    const external = ctx.runtime.externalWeights;
    const readable = external ? inlineTensors(pruned.model, bias ? [weight, bias] : [weight], external) : pruned.model;
    return {
      model: foldLinearMap(readable, search.projection, t),
      spec: {
        ...common,
        placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
        foldedInto: search.projection.matmulNode,
        addedParameters: 0,
      },
    };
  }
  if (!bridge) throw new SiftError('invalid_argument', 'calibration: no tokens to fit the healing map on');
  const t = bridge.solve({ alpha: ridgeAlpha });
  return {
    model: insertLinearMap(pruned.model, pruned.bridgedTensor, t, [dim, dim]).model,
    spec: {
      ...common,
      placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_INSERT,
      foldedInto: '',
      addedParameters: dim * dim,
    },
  };
}

/** Runs the calibration texts through the source graph with `tensors` exposed, one batch at a time. */
async function forEachCalibrationBatch(
  decoder: DecoderModel,
  spec: pruningV1.CalibrationSpec | undefined,
  tensors: readonly string[],
  ctx: HealingContext,
  visit: (batch: TokenBatch) => boolean,
): Promise<void> {
  const calibration = await loadCalibration(spec, decoder.contextLength, 'calibration');
  const session = await openJobSession(encodeOnnxModel(exposeOutputs(decoder.graph, tensors)), ctx.runtime);
  try {
    await forEachTokenBatch(
      session,
      tensors,
      tokenSequences(calibration.texts, calibration.sequenceLength, decoder.codec),
      decoder.codec.padId,
      calibration.batchSize,
      visit,
      ctx.tick,
    );
  } finally {
    await session.release();
  }
}
