import { selectionV1 } from '@sift/contracts';
import type { DuplicateKeep, QualityFilterName } from '../domain/index.js';
import { qualityFilterByCode } from './steps/text-quality.js';
import type { ResolvedStep } from './steps.js';

/**
 * A resolved step as the contract's `Step` message, every default written out: what `SubmitJob` answers as
 * `resolved_steps`, so a caller sees the parameters the job will run with (the k-means sample size, the
 * SemDeDup eps sweep) before it starts. Submitting them again resolves to the same pipeline.
 *
 * MinHash `bands` stays 0 when the threshold chooses bands and rows: at P = 128 and t = 0.8 that is 14 bands
 * × 9 rows with verified candidates (the default) and 9 × 13 without. The field alone cannot say the rows
 * (`bands` = 9 would mean ⌊128 / 9⌋ = 14 rows, not 13); the job's report states both.
 */
export function toProtoStep(step: ResolvedStep): selectionV1.Step {
  return { name: step.name, kind: protoKind(step) };
}

const keepRule: Record<DuplicateKeep, selectionV1.DuplicateKeepRule> = {
  first: selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_FIRST,
  last: selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_LAST,
  'smallest-id': selectionV1.DuplicateKeepRule.DUPLICATE_KEEP_RULE_SMALLEST_ID,
};
const semDedupKeep = {
  hardest: selectionV1.SemDedupKeep.SEM_DEDUP_KEEP_HARDEST,
  easiest: selectionV1.SemDedupKeep.SEM_DEDUP_KEEP_EASIEST,
  random: selectionV1.SemDedupKeep.SEM_DEDUP_KEEP_RANDOM,
} as const;
const prototypeDrop = {
  'most-prototypical': selectionV1.PrototypeDrop.PROTOTYPE_DROP_MOST_PROTOTYPICAL,
  hardest: selectionV1.PrototypeDrop.PROTOTYPE_DROP_HARDEST,
} as const;
const qualityFilterCode = new Map(
  Object.entries(qualityFilterByCode).map(([code, name]): [QualityFilterName, number] => [name, Number(code)]),
);
const index = (files: { load: string[]; save: string }) => ({ loadPaths: files.load, savePath: files.save });
const model = (name: string, version: string) => ({ name, version });

function protoKind(step: ResolvedStep): NonNullable<selectionV1.Step['kind']> {
  switch (step.kind) {
    case 'exact-dedup':
      return {
        $case: 'exactDedup',
        value: { normalization: step.normalization, keep: keepRule[step.keep], index: index(step.index) },
      };
    case 'minhash-dedup':
      return {
        $case: 'minhashDedup',
        value: {
          normalization: step.normalization,
          shingleUnit:
            step.shingleUnit === 'character'
              ? selectionV1.ShingleUnit.SHINGLE_UNIT_CHARACTER
              : selectionV1.ShingleUnit.SHINGLE_UNIT_WORD,
          ngramSize: step.ngramSize,
          numPermutations: step.numPermutations,
          jaccardThreshold: step.threshold,
          bands: step.bands,
          verifyCandidates: step.verifyCandidates,
          seed: step.seed,
          keep: keepRule[step.keep],
          index: index(step.index),
        },
      };
    case 'embed':
      return {
        $case: 'embed',
        value: {
          model: model(step.model, step.version),
          batchSize: step.batchSize,
          dimensions: step.dimensions,
          unreadable:
            step.unreadable === 'drop'
              ? selectionV1.UnreadablePolicy.UNREADABLE_POLICY_DROP
              : selectionV1.UnreadablePolicy.UNREADABLE_POLICY_KEEP,
        },
      };
    case 'kmeans':
      return {
        $case: 'kmeans',
        value: {
          k: step.k,
          maxIterations: step.maxIterations,
          tolerance: step.tolerance,
          seed: step.seed,
          sampleSize: step.sampleSize,
          spherical: true,
          miniBatchSize: step.miniBatchSize,
        },
      };
    case 'sem-dedup':
      return {
        $case: 'semDedup',
        value: {
          eps: step.eps,
          reportEps: step.reportEps,
          keep: semDedupKeep[step.keep],
          comparison:
            step.comparison === 'kept-only'
              ? selectionV1.SemDedupComparison.SEM_DEDUP_COMPARISON_KEPT_ONLY
              : selectionV1.SemDedupComparison.SEM_DEDUP_COMPARISON_ALL_EARLIER,
          seed: step.seed,
          blockRows: step.blockRows,
        },
      };
    case 'ssl-prototypes':
      return {
        $case: 'sslPrototypes',
        value: { keepFraction: step.keepFraction, drop: prototypeDrop[step.drop] },
      };
    case 'd4':
      return {
        $case: 'd4',
        value: {
          dedupRatio: step.dedupRatio,
          keepRatio: step.keepRatio,
          recluster: { ...step.recluster, spherical: true },
          dedupKeep: semDedupKeep[step.dedupKeep],
          prototypeDrop: prototypeDrop[step.prototypeDrop],
        },
      };
    case 'density-pruning':
      return {
        $case: 'densityPruning',
        value: {
          target:
            step.keepCount > 0
              ? { $case: 'keepCount', value: step.keepCount }
              : { $case: 'keepFraction', value: step.keepFraction },
          temperature: step.temperature,
          nearestCentroids: step.nearestCentroids,
          minQuotaFactor: step.minQuotaFactor,
        },
      };
    case 'scip':
      return {
        $case: 'scip',
        value: {
          pruneFraction: step.pruneFraction,
          smallClusterShare: step.smallClusterShare,
          corruptionReport: step.corruptionReport,
          corruptionSamples: step.corruptionSamples,
          seed: step.seed,
        },
      };
    case 'long-file-pruning':
      return {
        $case: 'longFilePruning',
        value: {
          limit:
            step.maxTokens > 0
              ? { $case: 'maxTokens', value: step.maxTokens }
              : { $case: 'tokenShare', value: step.tokenShare },
          tokenizer: model(step.tokenizer, ''),
        },
      };
    case 'text-quality':
      return {
        $case: 'textQuality',
        value: {
          keepFraction: step.keepFraction,
          filters: step.filters.map((f) => qualityFilterCode.get(f) ?? 0),
          languageModel: model(step.model, step.version),
          weightSampleSize: step.weightSampleSize,
          seed: step.seed,
        },
      };
  }
}
