import { aliveIndices, drop, type PipelineState } from '../state.js';
import type { IndexFiles } from '../steps/dedup-options.js';

/**
 * What a dedup step compares: the alive records (`alive`; row i of `texts` and `ids` is record `alive[i]`)
 * and the records of the earlier datasets' index files it loads, when it names any.
 */
export async function dedupRecords<I>(
  state: PipelineState,
  files: IndexFiles,
  loadIndex: (paths: string[]) => Promise<I>,
): Promise<{ alive: Int32Array; texts: string[]; ids: string[]; index?: I }> {
  const alive = aliveIndices(state);
  const texts = Array.from(alive, (i) => state.texts[i] as string);
  const ids = Array.from(alive, (i) => state.ids[i] as string);
  const index = files.load.length > 0 ? await loadIndex(files.load) : undefined;
  return { alive, texts, ids, ...(index ? { index } : {}) };
}

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
