import { drop, type PipelineState } from '../state.js';

/**
 * Records the drops of a dedup step: a row whose duplicate is another row of this dataset
 * (`duplicateOf` >= 0) gets `reason` and that row; one matched in a loaded index (-2) is an
 * indexed-duplicate with the indexed record's id.
 */
export function dropDuplicates(
  state: PipelineState,
  alive: Int32Array,
  r: { kept: Uint8Array; duplicateOf: Int32Array; indexedDuplicateOf: readonly (string | undefined)[] },
  stage: string,
  reason: 'exact-duplicate' | 'near-duplicate',
  scores?: ArrayLike<number>,
): void {
  alive.forEach((rec, row) => {
    if (r.kept[row]) return;
    const dup = r.duplicateOf[row] as number;
    drop(state, rec, {
      stage,
      reason: dup === -2 ? 'indexed-duplicate' : reason,
      ...(scores ? { score: scores[row] as number } : {}),
      ...(dup >= 0 ? { duplicateOf: alive[dup] as number } : { indexedDuplicateOf: r.indexedDuplicateOf[row] ?? '' }),
    });
  });
}
