import { sampleIndices, seededRandom } from '@sift/numeric';
import { clusterPlacement, corruptCode, corruptionKinds, corruptionShift } from '../../domain/index.js';
import type { PipelineState } from '../state.js';
import type { StepOf } from '../steps.js';
import type { ClusteredRecords } from './clustered-records.js';
import type { StageContext } from './stage-context.js';

/**
 * SCIP's diagnostic: corrupt a sample of the alive files (each kind in turn), embed the corrupted copies
 * with the same model, place them in the existing clustering, and summarise how far they moved from their
 * originals (cluster size, distance to centroid), per corruption kind.
 */
export async function corruptionReport(
  state: PipelineState,
  input: ClusteredRecords,
  step: StepOf<'scip'>,
  ctx: StageContext,
) {
  const random = seededRandom(step.seed);
  const rows = sampleIndices(input.records.length, step.corruptionSamples, random);
  const originals: number[] = [];
  const corrupted: string[] = [];
  const kinds: string[] = [];
  rows.forEach((row, j) => {
    const kind = corruptionKinds[j % corruptionKinds.length] as (typeof corruptionKinds)[number];
    const c = corruptCode(state.texts[input.records[row] as number] as string, kind, random);
    if (!c) return;
    originals.push(row);
    corrupted.push(c.text);
    kinds.push(c.kind);
  });
  if (corrupted.length === 0) return { pairs: 0, note: 'no sampled file had a corruption site' };
  const [name = '', version = ''] = (state.embeddings?.model ?? '').split('@');
  const e = await ctx.embedder.embed(
    corrupted,
    { model: name, version, dimensions: input.dims, batchSize: 256 },
    () => {},
    ctx.signal,
  );
  const k = input.centroids.length / input.dims;
  const placed = await ctx.kernels.assign(e.vectors, corrupted.length, input.dims, input.centroids, k);
  const base = clusterPlacement(input);
  const original = {
    clusterSize: originals.map((r) => base.clusterSize[r] as number),
    centroidDistance: originals.map((r) => base.centroidDistance[r] as number),
  };
  const sizes = sizesOf(input.labels, k);
  const moved = {
    clusterSize: Array.from(placed.labels, (l) => sizes[l] ?? 0),
    centroidDistance: Array.from(placed.similarity, (s) => 1 - s),
  };
  return corruptionShift(original, moved, kinds);
}

function sizesOf(labels: Int32Array, k: number): Int32Array {
  const sizes = new Int32Array(k);
  for (const l of labels) sizes[l] = (sizes[l] as number) + 1;
  return sizes;
}
