import { createLogger, type Logger } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { encodeModel } from './onnx-writer.js';
import { openSession, type ProviderPreference } from './sessions.js';

/**
 * out = A Bᵀ (A: n × d, B: m × d, row-major float32) on ONNX Runtime's GEMM (MLAS on CPU, cuBLAS on CUDA), for the
 * similarity tiles of SemDeDup: the same product the TypeScript kernel computes, tens of times faster on
 * tiles of hundreds of rows. One session per kernel; calls are serialised by the caller's awaits.
 */
export async function createOrtGemmTransposed(
  opts: { provider?: ProviderPreference; logger?: Logger; threads?: number } = {},
) {
  const bytes = encodeModel({
    graphName: 'gemm-transposed',
    inputs: [
      { name: 'a', dtype: 'float32', shape: ['n', 'd'] },
      { name: 'b', dtype: 'float32', shape: ['m', 'd'] },
    ],
    outputs: [{ name: 'product', dtype: 'float32', shape: ['n', 'm'] }],
    nodes: [{ op: 'Gemm', inputs: ['a', 'b'], outputs: ['product'], attributes: { transB: { int: 1 } } }],
    initializers: [],
  });
  const { session } = await openSession(
    bytes,
    { graphOptimizationLevel: 'all', ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}) },
    opts.provider ?? 'cpu',
    (opts.logger ?? createLogger('inference', 'warn')).child({ graph: 'gemm-transposed' }),
  );
  return async (a: Float32Array, n: number, b: Float32Array, m: number, d: number, out: Float32Array) => {
    const result = await session.run({
      a: new ort.Tensor('float32', a.subarray(0, n * d), [n, d]),
      b: new ort.Tensor('float32', b.subarray(0, m * d), [m, d]),
    });
    out.set((result.product as ort.Tensor).data as Float32Array);
    return out;
  };
}
