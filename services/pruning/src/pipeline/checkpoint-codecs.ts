import { createHash } from 'node:crypto';
import { pruningV1 } from '@sift/contracts';
import { type CheckpointCodec, jsonCodec } from '@sift/jobs';
import { SiftError } from '@sift/kit';
import { decodeOnnxModel, type OnnxModel } from '../adapters/onnx-graph.js';
import type { BlockDistances } from '../domain/angular-distance.js';
import type { AnalysisRun } from './analysis.js';

/**
 * How each stage result of a pruning or analysis job is saved as a checkpoint (`JobCheckpoints`), so a job
 * redelivered after its worker died continues after its last finished stage.
 *
 * Every decode checks what it read against what the job expects (the model's layer count, the block cut)
 * and throws when it does not fit: `JobCheckpoints` then recomputes the stage. A damaged checkpoint once
 * gave a silently wrong result (distances cut to 3 values chose block 0 while the reused healed model was
 * the layer-1 one).
 */

/** A block as a checkpoint records it: the first removed layer and how many layers. */
export interface CutBlock {
  startLayer: number;
  blockSize: number;
}

function invalid(what: string, message: string): never {
  throw new SiftError('failed_precondition', `${what} checkpoint: ${message}`);
}

/**
 * Throws unless `d` is a whole float32 [layerCount, maxBlockSize] matrix of the model: `layerCount` layers
 * and, when `maxBlockSize` is given, that many block sizes.
 */
export function checkDistances(d: BlockDistances, expected: { layerCount: number; maxBlockSize?: number }): void {
  const { layerCount, maxBlockSize, values } = d;
  if (!Number.isInteger(layerCount) || !Number.isInteger(maxBlockSize) || maxBlockSize < 1) {
    invalid('distances', `dims [${layerCount}, ${maxBlockSize}] are not a layer count and a block size`);
  }
  if (layerCount !== expected.layerCount) {
    invalid('distances', `measured ${layerCount} layers, the model has ${expected.layerCount}`);
  }
  if (expected.maxBlockSize !== undefined && maxBlockSize !== expected.maxBlockSize) {
    invalid('distances', `measured blocks up to ${maxBlockSize} layers, the job needs ${expected.maxBlockSize}`);
  }
  if (values.length !== layerCount * maxBlockSize) {
    invalid(
      'distances',
      `${values.length} values for dims [${layerCount}, ${maxBlockSize}] (expected ${layerCount * maxBlockSize})`,
    );
  }
}

/** The distance matrix of an analysis result (float32 [layer count, max block size]). */
export function distancesOfResult(result: pruningV1.AnalysisResult): BlockDistances {
  const t = result.distances;
  const bytes = Buffer.from(t?.data ?? []);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { layerCount: t?.dims[0] ?? 0, maxBlockSize: t?.dims[1] ?? 0, values };
}

/**
 * An analysis of a `layerCount`-layer model over blocks up to `maxBlockSize` layers: its result message,
 * which holds the distance matrix too.
 */
export function analysisRunCodec(layerCount: number, maxBlockSize: number): CheckpointCodec<AnalysisRun> {
  return jsonCodec(
    (run: AnalysisRun) => pruningV1.AnalysisResult.toJSON(run.result),
    (object) => {
      const result = pruningV1.AnalysisResult.fromJSON(object);
      if (result.distances?.data.length !== 4 * (result.distances?.dims ?? []).reduce((a, b) => a * b, 1)) {
        invalid('analysis', `the distance tensor's ${result.distances?.data.length ?? 0} bytes do not fit its dims`);
      }
      const distances = distancesOfResult(result);
      checkDistances(distances, { layerCount, maxBlockSize });
      return { result, distances };
    },
  );
}

/**
 * The distance matrix of a `layerCount`-layer model over blocks up to `maxBlockSize` layers (NaN, for blocks
 * that would remove the final layer, survives as null).
 */
export function distancesCodec(layerCount: number, maxBlockSize: number): CheckpointCodec<BlockDistances> {
  return jsonCodec(
    (m: BlockDistances) => ({ ...m, values: Array.from(m.values, (v) => (Number.isNaN(v) ? null : v)) }),
    (o: { layerCount?: unknown; maxBlockSize?: unknown; values?: unknown }) => {
      if (!Array.isArray(o?.values) || !o.values.every((v) => v === null || typeof v === 'number')) {
        invalid('distances', '"values" is not an array of numbers and nulls');
      }
      const d = {
        layerCount: Number(o.layerCount),
        maxBlockSize: Number(o.maxBlockSize),
        values: Float32Array.from(o.values as (number | null)[], (v) => v ?? Number.NaN),
      };
      checkDistances(d, { layerCount, maxBlockSize });
      return d;
    },
  );
}

/**
 * Throws unless `m` holds measured figures: bits per byte and perplexity finite and positive, latencies
 * finite, a file size, parameters and `layerCount` layers (any layer count when not given).
 */
export function checkModelMetrics(m: pruningV1.ModelMetrics, what: string, layerCount?: number): void {
  for (const [field, value] of [
    ['bitsPerByte', m.bitsPerByte],
    ['perplexity', m.perplexity],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) invalid(what, `${field} ${value} is not a finite positive number`);
  }
  for (const [field, value] of [
    ['latencyMsP50', m.latencyMsP50],
    ['latencyMsP95', m.latencyMsP95],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) invalid(what, `${field} ${value} is not a finite number >= 0`);
  }
  if (!(m.fileSizeBytes > 0) || !(m.parameterCount > 0)) {
    invalid(what, `file size ${m.fileSizeBytes} and parameter count ${m.parameterCount} must be positive`);
  }
  if (layerCount !== undefined ? m.layerCount !== layerCount : !(m.layerCount > 0)) {
    invalid(what, `layer count ${m.layerCount}, expected ${layerCount ?? 'at least 1'}`);
  }
}

/** Held-out figures of the `layerCount`-layer source model. */
export function metricsCodec(layerCount: number): CheckpointCodec<pruningV1.ModelMetrics> {
  return jsonCodec(pruningV1.ModelMetrics.toJSON, (o) => {
    const m = pruningV1.ModelMetrics.fromJSON(o);
    checkModelMetrics(m, 'source metrics', layerCount);
    return m;
  });
}

/** One row of an analysis's loss table. */
export const blockEvaluationCodec = jsonCodec(pruningV1.BlockEvaluation.toJSON, (o) => {
  const row = pruningV1.BlockEvaluation.fromJSON(o);
  if (!row.block || row.block.blockSize < 1) invalid('block evaluation', 'the row names no block');
  if (!row.notCut) {
    if (!row.unhealed) invalid('block evaluation', 'no unhealed figures');
    checkModelMetrics(row.unhealed, 'block evaluation');
    if (row.healed) checkModelMetrics(row.healed, 'block evaluation');
  }
  return row;
});

/** Before / after figures of a pruning. */
export interface PruningMetrics {
  before: pruningV1.ModelMetrics;
  afterUnhealed: pruningV1.ModelMetrics;
  afterHealed: pruningV1.ModelMetrics | undefined;
}

/**
 * Before / after figures of cutting `block` from a `layerCount`-layer model, healed or not; the block is
 * saved with them, and figures measured on another block are refused.
 */
export function pruningMetricsCodec(
  layerCount: number,
  block: CutBlock,
  healed: boolean,
): CheckpointCodec<PruningMetrics> {
  return jsonCodec(
    (m: PruningMetrics) => ({
      block,
      before: pruningV1.ModelMetrics.toJSON(m.before),
      afterUnhealed: pruningV1.ModelMetrics.toJSON(m.afterUnhealed),
      afterHealed: m.afterHealed ? pruningV1.ModelMetrics.toJSON(m.afterHealed) : null,
    }),
    (o) => {
      checkBlock('metrics', o?.block, block);
      for (const field of ['before', 'afterUnhealed'] as const) {
        if (typeof o[field] !== 'object' || o[field] === null) invalid('metrics', `"${field}" is missing`);
      }
      if (healed !== (typeof o.afterHealed === 'object' && o.afterHealed !== null)) {
        invalid('metrics', healed ? '"afterHealed" is missing' : '"afterHealed" is there but the job does not heal');
      }
      const m: PruningMetrics = {
        before: pruningV1.ModelMetrics.fromJSON(o.before),
        afterUnhealed: pruningV1.ModelMetrics.fromJSON(o.afterUnhealed),
        afterHealed: healed ? pruningV1.ModelMetrics.fromJSON(o.afterHealed) : undefined,
      };
      checkModelMetrics(m.before, 'metrics (before)', layerCount);
      checkModelMetrics(m.afterUnhealed, 'metrics (after, unhealed)', layerCount - block.blockSize);
      if (m.afterHealed) checkModelMetrics(m.afterHealed, 'metrics (after, healed)', layerCount - block.blockSize);
      return m;
    },
  );
}

function checkBlock(what: string, saved: unknown, block: CutBlock): void {
  const s = saved as Partial<CutBlock> | undefined;
  if (s?.startLayer !== block.startLayer || s?.blockSize !== block.blockSize) {
    const was = s && typeof s === 'object' ? `layers from ${s.startLayer}, ${s.blockSize} long` : 'no block';
    invalid(what, `made for ${was}, the job cuts ${block.blockSize} from layer ${block.startLayer}`);
  }
}

/** A healed graph as ONNX bytes (and decoded), with what healing did. */
export interface HealedGraph {
  spec: pruningV1.HealingSpec;
  bytes: Uint8Array;
  model: OnnxModel;
}

/**
 * The healed graph of cutting `block`. Layout: uint32 LE length of a JSON header (the healing spec, the
 * block, the ONNX bytes' sha256), the header, then the ONNX bytes. A graph healed for another block, bytes
 * that do not match their hash, or that do not decode as ONNX are refused.
 */
export function healedGraphCodec(block: CutBlock): CheckpointCodec<HealedGraph> {
  return {
    encode: ({ spec, bytes }) => {
      const header = {
        spec: pruningV1.HealingSpec.toJSON(spec),
        block,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
      const json = Buffer.from(JSON.stringify(header));
      const head = Buffer.alloc(4);
      head.writeUInt32LE(json.length);
      return Buffer.concat([head, json, bytes]);
    },
    decode: (bytes) => {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const length = buf.length >= 4 ? buf.readUInt32LE(0) : -1;
      if (length < 0 || 4 + length > buf.length) invalid('healed model', `${buf.length} bytes hold no whole header`);
      let header: { spec?: unknown; block?: unknown; sha256?: unknown };
      try {
        header = JSON.parse(buf.subarray(4, 4 + length).toString('utf8'));
      } catch {
        invalid('healed model', 'the header is not JSON');
      }
      checkBlock('healed model', header?.block, block);
      const onnx = new Uint8Array(buf.subarray(4 + length));
      if (header.sha256 !== createHash('sha256').update(onnx).digest('hex')) {
        invalid('healed model', `the ${onnx.length} ONNX bytes do not match the sha256 saved with them`);
      }
      let model: OnnxModel;
      try {
        model = decodeOnnxModel(onnx);
      } catch (err) {
        invalid('healed model', (err as Error).message);
      }
      return { spec: pruningV1.HealingSpec.fromJSON(header.spec), bytes: onnx, model };
    },
  };
}
