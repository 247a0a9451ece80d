import { selectionV1 } from '@sift/contracts';
import { echoed, requireKnownEnum, SiftError } from '@sift/kit';
import {
  type DuplicateKeep,
  type QualityFilterName,
  qualityFilterNames,
  type TextNormalization,
} from '../domain/index.js';

/** A pipeline step with every default filled in and every range checked. */
/** Index files of earlier datasets to dedup against, and where to save this dataset's. */
export interface IndexFiles {
  load: string[];
  save: string;
}

export type ResolvedStep = { name: string } & (
  | { kind: 'exact-dedup'; normalization: TextNormalization; keep: DuplicateKeep; index: IndexFiles }
  | {
      kind: 'minhash-dedup';
      normalization: TextNormalization;
      shingleUnit: 'word' | 'character';
      ngramSize: number;
      numPermutations: number;
      threshold: number;
      bands: number;
      verifyCandidates: boolean;
      seed: number;
      keep: DuplicateKeep;
      index: IndexFiles;
    }
  | {
      kind: 'embed';
      model: string;
      version: string;
      batchSize: number;
      dimensions: number;
      /** Records with an all-zero vector: kept aside from the embedding-space steps, or dropped. */
      unreadable: 'keep' | 'drop';
    }
  | ({ kind: 'kmeans' } & KMeansParams)
  | {
      kind: 'sem-dedup';
      eps: number;
      reportEps: number[];
      keep: 'hardest' | 'easiest' | 'random';
      comparison: 'all-earlier' | 'kept-only';
      seed: number;
      blockRows: number;
    }
  | { kind: 'ssl-prototypes'; keepFraction: number; drop: 'most-prototypical' | 'hardest' }
  | {
      kind: 'd4';
      dedupRatio: number;
      keepRatio: number;
      recluster: KMeansParams;
      dedupKeep: 'hardest' | 'easiest' | 'random';
      prototypeDrop: 'most-prototypical' | 'hardest';
    }
  | { kind: 'long-file-pruning'; tokenShare: number; maxTokens: number; tokenizer: 'code-tokens' | 'utf8-bytes' }
  | {
      kind: 'scip';
      pruneFraction: number;
      smallClusterShare: number;
      corruptionReport: boolean;
      corruptionSamples: number;
      seed: number;
    }
  | {
      kind: 'text-quality';
      keepFraction: number;
      filters: QualityFilterName[];
      model: string;
      version: string;
      weightSampleSize: number;
      seed: number;
    }
  | {
      kind: 'density-pruning';
      keepFraction: number;
      keepCount: number;
      temperature: number;
      nearestCentroids: number;
      minQuotaFactor: number;
    }
);

export type StepKind = ResolvedStep['kind'];

const later: Record<string, string> = {};

const keepByCode: Record<number, DuplicateKeep> = { 0: 'first', 1: 'first', 2: 'last', 3: 'smallest-id' };

function normalizationOf(n: selectionV1.TextNormalization | undefined): TextNormalization {
  return {
    unicodeNfkc: n?.unicodeNfkc ?? false,
    lowercase: n?.lowercase ?? false,
    collapseWhitespace: n?.collapseWhitespace ?? false,
    stripPunctuation: n?.stripPunctuation ?? false,
    maskDigits: n?.maskDigits ?? false,
  };
}

export const qualityFilterByCode: Record<number, QualityFilterName> = {
  1: 'terminal-punctuation',
  2: 'min-words',
  3: 'not-uppercase',
  4: 'few-digits',
  5: 'stop-words',
  6: 'no-boilerplate',
  7: 'no-curly-braces',
};

/**
 * Most steps one pipeline may have. The longest real pipelines have about ten; every step is a stage with
 * its own saved state, and an unbounded list let one request hold the event loop for minutes.
 */
export const maxSteps = 64;

/** INVALID_ARGUMENT naming `steps` when there are more than {@link maxSteps}. */
export function checkStepCount(steps: readonly unknown[]): void {
  if (steps.length > maxSteps) {
    throw new SiftError(
      'invalid_argument',
      `steps: ${steps.length} steps; a pipeline has at most ${maxSteps} (split the work into several jobs)`,
    );
  }
}

/**
 * Checks a submitted pipeline before any work starts and fills in defaults. Errors are INVALID_ARGUMENT
 * naming `steps[i].<field>`; steps that need embeddings or clusters must come after the step that makes
 * them, so a misordered pipeline fails here instead of an hour into a job.
 */
export function resolveSteps(steps: selectionV1.Step[]): ResolvedStep[] {
  if (steps.length === 0) throw new SiftError('invalid_argument', 'steps: at least one step is required');
  checkStepCount(steps);
  const out: ResolvedStep[] = [];
  let embedded = false;
  let clustered = false;
  const names = new Set<string>();
  // Occurrences of each kind so far, for default names: counted as the steps go (was a scan of all earlier
  // steps per step, quadratic in their number).
  const occurrences = new Map<string, number>();
  steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    const kind = step.kind;
    if (!kind) throw new SiftError('invalid_argument', `${at}: no step kind set`);
    if (kind.$case in later) {
      throw new SiftError(
        'unimplemented',
        `${at}: step ${later[kind.$case]} is not available in this version of the selection service (it arrives with the lexical and heuristic methods)`,
      );
    }
    // The contract's default: the kind in snake case, "_<n>" from its second occurrence on ("kmeans_2").
    const kindName = kind.$case.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const occurrence = (occurrences.get(kind.$case) ?? 0) + 1;
    occurrences.set(kind.$case, occurrence);
    const name = step.name || (occurrence === 1 ? kindName : `${kindName}_${occurrence}`);
    if (names.has(name))
      throw new SiftError('invalid_argument', `${at}.name: "${echoed(name)}" is used by an earlier step`);
    names.add(name);
    const needs = (what: 'embeddings' | 'clusters') => {
      if (what === 'embeddings' && !embedded) {
        throw new SiftError('invalid_argument', `${at} (${kind.$case}) needs an embed step before it`);
      }
      if (what === 'clusters' && !clustered) {
        throw new SiftError('invalid_argument', `${at} (${kind.$case}) needs a kmeans step after the last embed step`);
      }
    };
    switch (kind.$case) {
      case 'exactDedup': {
        const v = kind.value;
        out.push({
          name,
          kind: 'exact-dedup',
          normalization: normalizationOf(v.normalization),
          keep:
            keepByCode[requireKnownEnum(v.keep, selectionV1.DuplicateKeepRule, `${at}.exact_dedup.keep`)] ?? 'first',
          index: { load: v.index?.loadPaths ?? [], save: v.index?.savePath ?? '' },
        });
        break;
      }
      case 'minhashDedup': {
        const v = kind.value;
        const numPermutations = intIn(v.numPermutations || 128, 8, 1024, `${at}.minhash_dedup.num_permutations`);
        out.push({
          name,
          kind: 'minhash-dedup',
          normalization: normalizationOf(v.normalization),
          shingleUnit:
            requireKnownEnum(v.shingleUnit, selectionV1.ShingleUnit, `${at}.minhash_dedup.shingle_unit`) === 2
              ? 'character'
              : 'word',
          ngramSize: intIn(v.ngramSize || 5, 1, 64, `${at}.minhash_dedup.ngram_size`),
          numPermutations,
          threshold: inRange(unsetIsDefault(v.jaccardThreshold, 0.8), 0, 1, `${at}.minhash_dedup.jaccard_threshold`),
          bands: v.bands ? intIn(v.bands, 1, numPermutations, `${at}.minhash_dedup.bands`) : 0,
          verifyCandidates: v.verifyCandidates ?? true,
          seed: v.seed,
          keep:
            keepByCode[requireKnownEnum(v.keep, selectionV1.DuplicateKeepRule, `${at}.minhash_dedup.keep`)] ?? 'first',
          index: { load: v.index?.loadPaths ?? [], save: v.index?.savePath ?? '' },
        });
        break;
      }
      case 'embed': {
        const v = kind.value;
        embedded = true;
        clustered = false;
        out.push({
          name,
          kind: 'embed',
          model: v.model?.name ?? '',
          version: v.model?.version ?? '',
          batchSize: intIn(v.batchSize || 256, 1, 2048, `${at}.embed.batch_size`),
          dimensions: v.dimensions,
          unreadable:
            requireKnownEnum(v.unreadable, selectionV1.UnreadablePolicy, `${at}.embed.unreadable`) ===
            selectionV1.UnreadablePolicy.UNREADABLE_POLICY_DROP
              ? 'drop'
              : 'keep',
        });
        break;
      }
      case 'kmeans': {
        needs('embeddings');
        const v = kind.value;
        if (v.spherical === false) {
          throw new SiftError(
            'unimplemented',
            `${at}.kmeans.spherical: only spherical (cosine) k-means is implemented`,
          );
        }
        clustered = true;
        out.push({ name, kind: 'kmeans', ...kmeansParams(v, `${at}.kmeans`) });
        break;
      }
      case 'semDedup': {
        needs('clusters');
        const v = kind.value;
        out.push({
          name,
          kind: 'sem-dedup',
          // The contract makes eps required: which near-duplicates go is the user's call, not a default's.
          eps: inRange(v.eps, 0, 1, `${at}.sem_dedup.eps`),
          reportEps: (v.reportEps.length ? v.reportEps : [0.01, 0.02, 0.05, 0.1]).map((e, j) =>
            inRange(e, 0, 1, `${at}.sem_dedup.report_eps[${j}]`),
          ),
          keep: keepRule(v.keep, `${at}.sem_dedup.keep`),
          comparison:
            requireKnownEnum(v.comparison, selectionV1.SemDedupComparison, `${at}.sem_dedup.comparison`) === 2
              ? 'kept-only'
              : 'all-earlier',
          seed: v.seed,
          blockRows: intIn(v.blockRows || 1024, 16, 65536, `${at}.sem_dedup.block_rows`),
        });
        break;
      }
      case 'sslPrototypes': {
        needs('clusters');
        const v = kind.value;
        out.push({
          name,
          kind: 'ssl-prototypes',
          keepFraction: inRange(v.keepFraction, 0, 1, `${at}.ssl_prototypes.keep_fraction`, true),
          drop: prototypeDrop(v.drop, `${at}.ssl_prototypes.drop`),
        });
        break;
      }
      case 'd4': {
        needs('clusters');
        const v = kind.value;
        const dedupRatio = inRange(unsetIsDefault(v.dedupRatio, 0.75), 0, 1, `${at}.d4.dedup_ratio`, true);
        const keepRatio = inRange(v.keepRatio, 0, 1, `${at}.d4.keep_ratio`, true);
        if (keepRatio > dedupRatio) {
          throw new SiftError(
            'invalid_argument',
            `${at}.d4.keep_ratio (${keepRatio}) must not exceed dedup_ratio (${dedupRatio})`,
          );
        }
        const r = kmeansParams(
          v.recluster ?? { k: 0, maxIterations: 0, tolerance: 0, seed: 0, miniBatchSize: 0 },
          `${at}.d4.recluster`,
        );
        out.push({
          name,
          kind: 'd4',
          dedupRatio,
          keepRatio,
          recluster: r,
          dedupKeep: keepRule(v.dedupKeep, `${at}.d4.dedup_keep`),
          prototypeDrop: prototypeDrop(v.prototypeDrop, `${at}.d4.prototype_drop`),
        });
        break;
      }
      case 'longFilePruning': {
        const v = kind.value;
        const limit = v.limit;
        if (!limit) throw new SiftError('invalid_argument', `${at}.long_file_pruning: set token_share or max_tokens`);
        const tokenizer = v.tokenizer?.name || 'code-tokens';
        if (tokenizer !== 'code-tokens' && tokenizer !== 'utf8-bytes') {
          throw new SiftError(
            'invalid_argument',
            `${at}.long_file_pruning.tokenizer: "${echoed(tokenizer)}" is not available; use "code-tokens" (default) or "utf8-bytes"`,
          );
        }
        out.push({
          name,
          kind: 'long-file-pruning',
          tokenShare:
            limit.$case === 'tokenShare' ? inRange(limit.value, 0, 1, `${at}.long_file_pruning.token_share`) : 0,
          maxTokens:
            limit.$case === 'maxTokens'
              ? intIn(limit.value, 1, Number.MAX_SAFE_INTEGER, `${at}.long_file_pruning.max_tokens`)
              : 0,
          tokenizer,
        });
        break;
      }
      case 'scip': {
        needs('clusters');
        const v = kind.value;
        out.push({
          name,
          kind: 'scip',
          pruneFraction: inRange(v.pruneFraction, 0, 1, `${at}.scip.prune_fraction`),
          // The contract reads 0 as "unset": the default split gives half the budget to small clusters.
          smallClusterShare:
            v.smallClusterShare === 0
              ? 0.5
              : inRange(v.smallClusterShare, 0, 1, `${at}.scip.small_cluster_share`, true),
          corruptionReport: v.corruptionReport,
          corruptionSamples: intIn(v.corruptionSamples || 200, 1, 100_000, `${at}.scip.corruption_samples`),
          seed: v.seed,
        });
        break;
      }
      case 'textQuality': {
        const v = kind.value;
        const filters = v.filters.map((f, j) => {
          const f2 = qualityFilterByCode[f];
          if (!f2) {
            const names = Object.keys(qualityFilterByCode).map((c) => selectionV1.qualityFilterToJSON(Number(c)));
            throw new SiftError(
              'invalid_argument',
              `${at}.text_quality.filters[${j}]: ${selectionV1.qualityFilterToJSON(f)} is not a filter; use one of ${names.join(', ')}`,
            );
          }
          if (v.filters.indexOf(f) !== j) {
            throw new SiftError('invalid_argument', `${at}.text_quality.filters[${j}] repeats '${f2}'`);
          }
          return f2;
        });
        out.push({
          name,
          kind: 'text-quality',
          keepFraction: inRange(v.keepFraction, 0, 1, `${at}.text_quality.keep_fraction`, true),
          filters: filters.length > 0 ? filters : [...qualityFilterNames],
          model: v.languageModel?.name || 'byte-gpt',
          version: v.languageModel?.version ?? '',
          // Each filter's kept lines are scored by the language model on CPU: a few hundred documents give
          // stable weights in seconds.
          weightSampleSize: intIn(v.weightSampleSize || 300, 1, 1_000_000, `${at}.text_quality.weight_sample_size`),
          seed: v.seed,
        });
        break;
      }
      case 'densityPruning': {
        needs('clusters');
        const v = kind.value;
        const t = v.target;
        if (!t) throw new SiftError('invalid_argument', `${at}.density_pruning: set keep_fraction or keep_count`);
        out.push({
          name,
          kind: 'density-pruning',
          keepFraction:
            t.$case === 'keepFraction' ? inRange(t.value, 0, 1, `${at}.density_pruning.keep_fraction`, true) : 0,
          keepCount:
            t.$case === 'keepCount'
              ? intIn(t.value, 1, Number.MAX_SAFE_INTEGER, `${at}.density_pruning.keep_count`)
              : 0,
          temperature: inRange(unsetIsDefault(v.temperature, 0.5), 0, 100, `${at}.density_pruning.temperature`),
          nearestCentroids: intIn(v.nearestCentroids || 20, 1, 100000, `${at}.density_pruning.nearest_centroids`),
          minQuotaFactor: inRange(
            unsetIsDefault(v.minQuotaFactor, 0.5),
            0,
            1,
            `${at}.density_pruning.min_quota_factor`,
            true,
          ),
        });
        break;
      }
    }
  });
  return out;
}

/** A k-means step (or D4's re-clustering) with its defaults applied. */
export interface KMeansParams {
  k: number;
  maxIterations: number;
  tolerance: number;
  seed: number;
  /** 0 fits on every record. */
  sampleSize: number;
  /** 0 runs full Lloyd iterations. */
  miniBatchSize: number;
}

/** Records per centroid that k-means fits on when the step sets no sample size (faiss's default). */
export const defaultPointsPerCentroid = 256;

function kmeansParams(v: selectionV1.KMeansStep, at: string): KMeansParams {
  const k = intIn(v.k, 1, 1_000_000, `${at}.k`);
  return {
    k,
    maxIterations: intIn(v.maxIterations || 20, 1, 1000, `${at}.max_iterations`),
    tolerance: inRange(unsetIsDefault(v.tolerance, 1e-5), 0, 1, `${at}.tolerance`),
    seed: v.seed,
    // 0 (all records) is kept; a sample at least as large as the records left also fits on all of them.
    sampleSize:
      v.sampleSize === undefined
        ? defaultPointsPerCentroid * k
        : intIn(v.sampleSize, 0, Number.MAX_SAFE_INTEGER, `${at}.sample_size`),
    miniBatchSize: intIn(v.miniBatchSize, 0, Number.MAX_SAFE_INTEGER, `${at}.mini_batch_size`),
  };
}

function keepRule(v: selectionV1.SemDedupKeep, field: string): 'hardest' | 'easiest' | 'random' {
  requireKnownEnum(v, selectionV1.SemDedupKeep, field);
  return v === 2 ? 'easiest' : v === 3 ? 'random' : 'hardest';
}

function prototypeDrop(v: selectionV1.PrototypeDrop, field: string): 'hardest' | 'most-prototypical' {
  return requireKnownEnum(v, selectionV1.PrototypeDrop, field) === 2 ? 'hardest' : 'most-prototypical';
}

/**
 * proto3 cannot tell an unset double from 0, so the contract reads 0 as "use the default". Anything else,
 * NaN included, is the caller's value and goes on to the range check (`NaN || default` would have hidden
 * a NaN behind the default).
 */
function unsetIsDefault(v: number, def: number): number {
  return v === 0 ? def : v;
}

function intIn(v: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SiftError('invalid_argument', `${field} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/** v in (min, max) (exclusive), or (min, max] when `maxInclusive`. */
function inRange(v: number, min: number, max: number, field: string, maxInclusive = false): number {
  const ok = Number.isFinite(v) && v > min && (maxInclusive ? v <= max : v < max);
  if (!ok)
    throw new SiftError('invalid_argument', `${field} must be in (${min}, ${max}${maxInclusive ? ']' : ')'}, got ${v}`);
  return v;
}
