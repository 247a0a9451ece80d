import { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { defaultWeightSampleSize, type QualityFilterName, qualityFilterNames } from '../../domain/index.js';
import { inRange, intIn } from './fields.js';

/** Text-quality filtering (perplexity-weighted line filters) with its defaults filled in. */
export interface ResolvedTextQuality {
  kind: 'text-quality';
  keepFraction: number;
  filters: QualityFilterName[];
  model: string;
  version: string;
  weightSampleSize: number;
  seed: number;
}

/** The contract's QualityFilter values and the domain's filter names. */
export const qualityFilterByCode: Record<number, QualityFilterName> = {
  [selectionV1.QualityFilter.QUALITY_FILTER_TERMINAL_PUNCTUATION]: 'terminal-punctuation',
  [selectionV1.QualityFilter.QUALITY_FILTER_MIN_WORDS]: 'min-words',
  [selectionV1.QualityFilter.QUALITY_FILTER_NOT_UPPERCASE]: 'not-uppercase',
  [selectionV1.QualityFilter.QUALITY_FILTER_FEW_DIGITS]: 'few-digits',
  [selectionV1.QualityFilter.QUALITY_FILTER_STOP_WORDS]: 'stop-words',
  [selectionV1.QualityFilter.QUALITY_FILTER_NO_BOILERPLATE]: 'no-boilerplate',
  [selectionV1.QualityFilter.QUALITY_FILTER_NO_CURLY_BRACES]: 'no-curly-braces',
};

/** The byte-level language model that scores lines when the step names none. */
const defaultLanguageModel = 'byte-gpt';

/** Resolves a text_quality step; `field` names it in errors (`steps[i].text_quality`). */
export function resolveTextQuality(v: selectionV1.TextQualityStep, field: string): ResolvedTextQuality {
  const filters = v.filters.map((f, j) => {
    const name = qualityFilterByCode[f];
    if (!name) {
      const names = Object.keys(qualityFilterByCode).map((c) => selectionV1.qualityFilterToJSON(Number(c)));
      throw new SiftError(
        'invalid_argument',
        `${field}.filters[${j}]: ${selectionV1.qualityFilterToJSON(f)} is not a filter; use one of ${names.join(', ')}`,
      );
    }
    if (v.filters.indexOf(f) !== j) {
      throw new SiftError('invalid_argument', `${field}.filters[${j}] repeats '${name}'`);
    }
    return name;
  });
  return {
    kind: 'text-quality',
    keepFraction: inRange(v.keepFraction, 0, 1, `${field}.keep_fraction`, true),
    filters: filters.length > 0 ? filters : [...qualityFilterNames],
    model: v.languageModel?.name || defaultLanguageModel,
    version: v.languageModel?.version ?? '',
    weightSampleSize: intIn(v.weightSampleSize || defaultWeightSampleSize, 1, 1_000_000, `${field}.weight_sample_size`),
    seed: v.seed,
  };
}
