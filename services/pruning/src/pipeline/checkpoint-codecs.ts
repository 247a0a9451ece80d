import { pruningV1 } from '@sift/contracts';
import { type CheckpointCodec, jsonCodec } from '@sift/jobs';
import type { BlockDistances } from '../domain/angular-distance.js';
import type { AnalysisRun } from './analysis.js';

/**
 * How each stage result of a pruning or analysis job is saved as a checkpoint (`JobCheckpoints`), so a job
 * redelivered after its worker died continues after its last finished stage.
 */

/** The distance matrix of an analysis result (float32 [layer count, max block size]). */
export function distancesOfResult(result: pruningV1.AnalysisResult): BlockDistances {
  const t = result.distances;
  const bytes = Buffer.from(t?.data ?? []);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { layerCount: t?.dims[0] ?? 0, maxBlockSize: t?.dims[1] ?? 0, values };
}

/** An analysis: its result message, which holds the distance matrix too. */
export const analysisRunCodec: CheckpointCodec<AnalysisRun> = jsonCodec(
  (run: AnalysisRun) => pruningV1.AnalysisResult.toJSON(run.result),
  (object) => {
    const result = pruningV1.AnalysisResult.fromJSON(object);
    return { result, distances: distancesOfResult(result) };
  },
);

/** A distance matrix alone (NaN, for blocks that would remove the final layer, survives as null). */
export const distancesCodec: CheckpointCodec<BlockDistances> = jsonCodec(
  (m: BlockDistances) => ({ ...m, values: Array.from(m.values, (v) => (Number.isNaN(v) ? null : v)) }),
  (o: { layerCount: number; maxBlockSize: number; values: (number | null)[] }) => ({
    layerCount: o.layerCount,
    maxBlockSize: o.maxBlockSize,
    values: Float32Array.from(o.values, (v) => v ?? Number.NaN),
  }),
);

/** Held-out figures of one model variant. */
export const metricsCodec = jsonCodec(pruningV1.ModelMetrics.toJSON, pruningV1.ModelMetrics.fromJSON);

/** One row of an analysis's loss table. */
export const blockEvaluationCodec = jsonCodec(pruningV1.BlockEvaluation.toJSON, pruningV1.BlockEvaluation.fromJSON);

/** Before / after figures of a pruning. */
export interface PruningMetrics {
  before: pruningV1.ModelMetrics;
  afterUnhealed: pruningV1.ModelMetrics;
  afterHealed: pruningV1.ModelMetrics | undefined;
}

export const pruningMetricsCodec: CheckpointCodec<PruningMetrics> = jsonCodec(
  (m: PruningMetrics) => ({
    before: pruningV1.ModelMetrics.toJSON(m.before),
    afterUnhealed: pruningV1.ModelMetrics.toJSON(m.afterUnhealed),
    afterHealed: m.afterHealed ? pruningV1.ModelMetrics.toJSON(m.afterHealed) : null,
  }),
  (o) => ({
    before: pruningV1.ModelMetrics.fromJSON(o.before),
    afterUnhealed: pruningV1.ModelMetrics.fromJSON(o.afterUnhealed),
    afterHealed: o.afterHealed ? pruningV1.ModelMetrics.fromJSON(o.afterHealed) : undefined,
  }),
);

/** A healed graph as ONNX bytes, with what healing did. */
export interface HealedGraph {
  spec: pruningV1.HealingSpec;
  bytes: Uint8Array;
}

/** Layout: uint32 LE length of the spec's JSON, the JSON, then the ONNX bytes. */
export const healedGraphCodec: CheckpointCodec<HealedGraph> = {
  encode: ({ spec, bytes }) => {
    const json = Buffer.from(JSON.stringify(pruningV1.HealingSpec.toJSON(spec)));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(json.length);
    return Buffer.concat([head, json, bytes]);
  },
  decode: (bytes) => {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = buf.readUInt32LE(0);
    return {
      spec: pruningV1.HealingSpec.fromJSON(JSON.parse(buf.subarray(4, 4 + length).toString('utf8'))),
      bytes: new Uint8Array(buf.subarray(4 + length)),
    };
  },
};
