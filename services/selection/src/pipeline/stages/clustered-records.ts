import { gatherRows } from '@sift/numeric';
import { type DropReason, drop, type PipelineState, scoreKept } from '../state.js';

/** The latest embeddings; fails when no embed step ran (resolveSteps orders the steps so that one did). */
export function requireEmbeddings(state: PipelineState) {
  if (!state.embeddings) throw new Error('no embeddings: an embed step must run first');
  return state.embeddings;
}

/** Whether record `rec`'s row of `vectors` is all zeros (the encoder read nothing of it). */
export function isZeroRow(vectors: Float32Array, rec: number, dims: number): boolean {
  for (let j = rec * dims; j < (rec + 1) * dims; j++) if (vectors[j] !== 0) return false;
  return true;
}

/**
 * The alive records an embedding-space step works on: all but those with an all-zero vector (the model
 * read nothing of them), which it keeps aside, untouched; `unplaced` counts those.
 */
export function placeable(state: PipelineState, alive: Int32Array): { records: Int32Array; unplaced: number } {
  const { vectors, dims } = requireEmbeddings(state);
  const records = alive.filter((rec) => !isZeroRow(vectors, rec, dims));
  return { records, unplaced: alive.length - records.length };
}

/** The stage fact naming the records an embedding-space step kept aside, when there were any. */
export const keptAside = (unplaced: number) => (unplaced > 0 ? { keptAsideUnreadable: unplaced } : {});

/** The input of an embedding-space step, see {@link clusteredAlive}. */
export type ClusteredRecords = ReturnType<typeof clusteredAlive>;

/**
 * The placeable alive records (`records`; row i of the other fields is record `records[i]`), their
 * embeddings and their labels under the latest clustering.
 */
export function clusteredAlive(state: PipelineState, alive: Int32Array) {
  const { vectors, dims } = requireEmbeddings(state);
  const c = state.clustering;
  if (!c) throw new Error('no clustering: a kmeans step must run first');
  const { records, unplaced } = placeable(state, alive);
  return {
    records,
    unplaced,
    embeddings: gatherRows(vectors, records, dims),
    dims,
    labels: Int32Array.from(records, (i) => c.labels[i] as number),
    centroids: c.centroids,
  };
}

/**
 * Records what an embedding-space step decided for each row of its input: a kept record gets `score` as its
 * kept score; a dropped one is dropped with `reason`, its cluster, its score and, where `duplicateOf` names
 * a row (>= 0), the record it duplicates.
 */
export function recordClusterDecisions(
  state: PipelineState,
  input: ClusteredRecords,
  stage: string,
  decided: { kept: Uint8Array; score: Float32Array; reason: DropReason; duplicateOf?: Int32Array },
): void {
  input.records.forEach((rec, row) => {
    if (decided.kept[row]) {
      scoreKept(state, rec, stage, decided.score[row] as number);
      return;
    }
    const dup = decided.duplicateOf ? (decided.duplicateOf[row] as number) : -1;
    drop(state, rec, {
      stage,
      reason: decided.reason,
      cluster: input.labels[row] as number,
      score: decided.score[row] as number,
      ...(dup >= 0 ? { duplicateOf: input.records[dup] as number } : {}),
    });
  });
}
