import { pruningV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
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
import { byteSequences, type CapturedStreams, captureResidualStream } from './calibration.js';
import type { DecoderModel } from './decoder-model.js';

/** The contract's default ridge strength, relative to the mean diagonal of MᵀM. */
export const defaultRidgeAlpha = 1e-3;

/** What healing needs from a job: stage changes, progress ticks (which throw on cancel), its runtime. */
export interface HealingContext {
  readonly runtime: PruningRuntime;
  stage(name: string): void;
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
  ctx.stage('capture');
  const captured = await captureTensors(decoder, calibration, tensors, ctx);
  ctx.stage('heal');
  const dim = captured.dim;
  const rows = Math.min(captured.tokens, healing?.maxTokens || captured.tokens);
  const ridgeAlpha = healing?.ridgeAlpha || defaultRidgeAlpha;
  const rowsOf = (k: number) => (captured.allTokens[k] as Float32Array).subarray(0, rows * dim);
  const common = {
    method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES,
    ridgeAlpha,
    maxTokens: rows,
  };
  if (search.found) {
    // Target L − Y: what the projection must produce for x^start to stand in for x^(start+n).
    const target = rowsOf(2).slice();
    const residual = rowsOf(1);
    for (let i = 0; i < target.length; i++) target[i]! -= residual[i]!;
    const fit = new RidgeAccumulator(dim, dim);
    fit.add(rowsOf(0), target, rows);
    const t = fit.solve({ alpha: ridgeAlpha });
    return {
      model: foldLinearMap(pruned.model, search.projection, t),
      spec: {
        ...common,
        placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
        foldedInto: search.projection.matmulNode,
        addedParameters: 0,
      },
    };
  }
  const fit = new BlockBridgeFit(dim);
  fit.add(rowsOf(0), rowsOf(1), rows);
  const t = fit.solve({ alpha: ridgeAlpha });
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

/** Every calibration token's value of `tensors` (tensors of the source graph, exposed as outputs). */
async function captureTensors(
  decoder: DecoderModel,
  spec: pruningV1.CalibrationSpec | undefined,
  tensors: readonly string[],
  ctx: HealingContext,
): Promise<CapturedStreams> {
  const calibration = await loadCalibration(spec, decoder.contextLength, 'calibration');
  const bytes = encodeOnnxModel(exposeOutputs(decoder.graph, tensors));
  const session = await openJobSession(bytes, ctx.runtime);
  try {
    return await captureResidualStream(
      session,
      tensors,
      byteSequences(calibration.texts, calibration.sequenceLength),
      calibration.batchSize,
      ctx.tick,
    );
  } finally {
    await session.release();
  }
}
