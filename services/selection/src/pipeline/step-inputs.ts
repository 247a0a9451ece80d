import { stat } from 'node:fs/promises';
import { echoed, SiftError } from '@sift/kit';
import type { LanguageModelScorer, TextEmbedder } from '../ports.js';
import type { ResolvedStep } from './steps.js';

/** Prefixes a SiftError's message with the request field it concerns. */
export const naming = (field: string) => (err: unknown) => {
  throw err instanceof SiftError ? new SiftError(err.kind, `${field}: ${err.message}`) : err;
};

/**
 * Looks up, before a job is queued, what its steps will read: the embedding and language models (asked of
 * their services and store) and the dedup indexes to load, so that a missing one fails the submit instead
 * of the job when it reaches the step.
 */
export async function checkStepInputs(
  steps: readonly ResolvedStep[],
  services: { languageModels: LanguageModelScorer; embedder: TextEmbedder },
): Promise<void> {
  for (const [i, step] of steps.entries()) {
    if (step.kind === 'text-quality') {
      await services.languageModels
        .check({ name: step.model, version: step.version })
        .catch(naming(`steps[${i}].text_quality.language_model`));
    } else if (step.kind === 'embed') {
      await services.embedder
        .checkModel(step.model, step.version, step.dimensions)
        .catch(naming(`steps[${i}].embed.model`));
    } else if ('index' in step) {
      for (const [j, path] of step.index.load.entries()) {
        if (!(await stat(path).catch(() => undefined))?.isFile()) {
          throw new SiftError('not_found', `steps[${i}].index.load_paths[${j}]: no index file at ${echoed(path)}`);
        }
      }
    }
  }
}
