import type { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { defaultDensityTemperature, defaultMinQuotaFactor, defaultNearestCentroids } from '../../domain/index.js';
import { inRange, intIn, unsetIsDefault } from './fields.js';

/** Density-based pruning with its defaults filled in: exactly one of `keepFraction` and `keepCount` is set. */
export interface ResolvedDensityPruning {
  kind: 'density-pruning';
  keepFraction: number;
  keepCount: number;
  temperature: number;
  nearestCentroids: number;
  minQuotaFactor: number;
}

/** Resolves a density_pruning step; `field` names it in errors (`steps[i].density_pruning`). */
export function resolveDensityPruning(v: selectionV1.DensityPruningStep, field: string): ResolvedDensityPruning {
  const t = v.target;
  if (!t) throw new SiftError('invalid_argument', `${field}: set keep_fraction or keep_count`);
  return {
    kind: 'density-pruning',
    keepFraction: t.$case === 'keepFraction' ? inRange(t.value, 0, 1, `${field}.keep_fraction`, true) : 0,
    keepCount: t.$case === 'keepCount' ? intIn(t.value, 1, Number.MAX_SAFE_INTEGER, `${field}.keep_count`) : 0,
    temperature: inRange(unsetIsDefault(v.temperature, defaultDensityTemperature), 0, 100, `${field}.temperature`),
    nearestCentroids: intIn(v.nearestCentroids || defaultNearestCentroids, 1, 100000, `${field}.nearest_centroids`),
    minQuotaFactor: inRange(
      unsetIsDefault(v.minQuotaFactor, defaultMinQuotaFactor),
      0,
      1,
      `${field}.min_quota_factor`,
      true,
    ),
  };
}
