import type { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { defaultD4DedupRatio } from '../../domain/index.js';
import { inRange, unsetIsDefault } from './fields.js';
import { type KMeansParams, kmeansParams } from './kmeans.js';
import { type SemDedupKeepRule, semDedupKeepOf } from './sem-dedup.js';
import { type PrototypeDropRule, prototypeDropOf } from './ssl-prototypes.js';

/** D4 (SemDeDup, re-clustering, then SSL prototypes) with its defaults filled in. */
export interface ResolvedD4 {
  kind: 'd4';
  dedupRatio: number;
  keepRatio: number;
  recluster: KMeansParams;
  dedupKeep: SemDedupKeepRule;
  prototypeDrop: PrototypeDropRule;
}

/** Resolves a d4 step; `field` names it in errors (`steps[i].d4`). */
export function resolveD4(v: selectionV1.D4Step, field: string): ResolvedD4 {
  const dedupRatio = inRange(unsetIsDefault(v.dedupRatio, defaultD4DedupRatio), 0, 1, `${field}.dedup_ratio`, true);
  const keepRatio = inRange(v.keepRatio, 0, 1, `${field}.keep_ratio`, true);
  if (keepRatio > dedupRatio) {
    throw new SiftError(
      'invalid_argument',
      `${field}.keep_ratio (${keepRatio}) must not exceed dedup_ratio (${dedupRatio})`,
    );
  }
  const recluster = kmeansParams(
    v.recluster ?? { k: 0, maxIterations: 0, tolerance: 0, seed: 0, miniBatchSize: 0 },
    `${field}.recluster`,
  );
  return {
    kind: 'd4',
    dedupRatio,
    keepRatio,
    recluster,
    dedupKeep: semDedupKeepOf(v.dedupKeep, `${field}.dedup_keep`),
    prototypeDrop: prototypeDropOf(v.prototypeDrop, `${field}.prototype_drop`),
  };
}
