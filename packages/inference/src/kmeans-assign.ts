import { createLogger, type Logger } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { encodeModel } from './onnx-writer.js';
import { openSession, type ProviderPreference } from './sessions.js';

/** Nearest centroid of each row: index and cosine similarity (the numeric package's Assignment). */
export interface OrtAssignment {
  labels: Int32Array;
  similarity: Float32Array;
}

/**
 * The k-means assignment step as an ONNX graph (Gemm with transposed centroids, then ArgMax and ReduceMax
 * over the centroid axis), so it runs on ONNX Runtime's GEMM (MLAS on CPU, cuBLAS on CUDA) instead of a
 * TypeScript loop. Rows are processed in chunks to bound the [chunk, k] score matrix.
 */
export async function createOrtAssignKernel(
  opts: { provider?: ProviderPreference; logger?: Logger; chunkRows?: number; threads?: number } = {},
) {
  const bytes = encodeModel({
    graphName: 'kmeans-assign',
    inputs: [
      { name: 'x', dtype: 'float32', shape: ['rows', 'dims'] },
      { name: 'centroids', dtype: 'float32', shape: ['k', 'dims'] },
    ],
    outputs: [
      { name: 'label', dtype: 'int64', shape: ['rows'] },
      { name: 'similarity', dtype: 'float32', shape: ['rows'] },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['x', 'centroids'], outputs: ['scores'], attributes: { transB: { int: 1 } } },
      { op: 'ArgMax', inputs: ['scores'], outputs: ['label'], attributes: { axis: { int: 1 }, keepdims: { int: 0 } } },
      {
        op: 'ReduceMax',
        inputs: ['scores'],
        outputs: ['similarity'],
        attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
      },
    ],
    initializers: [],
  });
  const { session } = await openSession(
    bytes,
    { graphOptimizationLevel: 'all', ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}) },
    opts.provider ?? 'cpu',
    (opts.logger ?? createLogger('inference', 'warn')).child({ graph: 'kmeans-assign' }),
  );
  const chunkRows = opts.chunkRows ?? 16384;
  return async (x: Float32Array, n: number, d: number, centroids: Float32Array, k: number): Promise<OrtAssignment> => {
    const labels = new Int32Array(n);
    const similarity = new Float32Array(n);
    const c = new ort.Tensor('float32', centroids.subarray(0, k * d), [k, d]);
    for (let r0 = 0; r0 < n; r0 += chunkRows) {
      const rows = Math.min(chunkRows, n - r0);
      const out = await session.run({
        x: new ort.Tensor('float32', x.subarray(r0 * d, (r0 + rows) * d), [rows, d]),
        centroids: c,
      });
      const l = out.label?.data as BigInt64Array;
      for (let i = 0; i < rows; i++) labels[r0 + i] = Number(l[i]);
      similarity.set(out.similarity?.data as Float32Array, r0);
    }
    return { labels, similarity };
  };
}
