import { createOrtAssignKernel, createOrtGemmTransposed, type ProviderPreference } from '@sift/inference';
import type { Logger } from '@sift/kit';
import { type AssignKernel, matmulTransposed } from '@sift/numeric';
import type { TileProduct } from '../domain/index.js';

/** Below this much work (n·m·d multiply-adds) a tile is cheaper in TypeScript than a call into ONNX Runtime. */
const smallTileWork = 32_768;

/** The ONNX Runtime kernels of the embedding-space steps: created once per worker, on its provider. */
export interface SelectionKernels {
  /** The k-means assignment (Gemm + ArgMax). */
  readonly assign: AssignKernel;
  /** SemDeDup's similarity tiles on the GEMM; tiles too small to be worth a call stay in TypeScript. */
  readonly tileProduct: TileProduct;
}

/** Opens the kernels on `provider` (CUDA falls back to CPU with a warning, see `openSession`). */
export async function createSelectionKernels(opts: {
  provider: ProviderPreference;
  logger: Logger;
}): Promise<SelectionKernels> {
  const gemm = await createOrtGemmTransposed(opts);
  return {
    assign: await createOrtAssignKernel(opts),
    tileProduct: (a, n, b, m, d, out) =>
      n * m * d < smallTileWork ? matmulTransposed(a, n, b, m, d, out) : gemm(a, n, b, m, d, out),
  };
}
