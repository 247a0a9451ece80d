import type { ModelManifest, ModelStore, StoredModel } from '@sift/inference';
import { SiftError } from '@sift/kit';

/**
 * Where a pruned model goes when the request names no output: a model of its own next to its source.
 * A new version under the source's name would become what every unversioned request for the source
 * resolves to (embedding, text-quality scoring, the next pruning), silently swapping in a shallower model;
 * so a pruned model pruned again goes to `<source>-pruned` too (`byte-gpt-pruned-pruned`).
 */
export function prunedNameOf(source: string): string {
  return `${source}-pruned`;
}

/** The part of a manifest's provenance a pruned model carries (see `storeModelVersion`). */
interface PrunedProvenance {
  pruning?: { source?: { name?: unknown } };
  sourceProvenance?: PrunedProvenance;
}

/**
 * The model a chain of prunings started from: a pruned manifest names its source and carries the source's
 * provenance (`sourceProvenance`), so the chain is read back to the first pruning's source. Undefined for a
 * model that is not a pruning (an original), or when the chain names no source.
 */
export function originalOf(manifest: ModelManifest): string | undefined {
  let provenance = manifest.provenance as PrunedProvenance | undefined;
  let original: string | undefined;
  // Bounded: a hand-edited manifest could nest without end only as deep as its JSON, but stay safe anyway.
  for (let depth = 0; depth < 1000 && provenance?.pruning; depth++) {
    const name = provenance.pruning.source?.name;
    if (typeof name !== 'string' || name === '') return undefined;
    original = name;
    provenance = provenance.sourceProvenance;
  }
  return original;
}

/**
 * Where a pruned model may go. Not under its source's own name; and a name that already holds models only
 * when every version there is a pruning whose chain starts at the same original model as the source's
 * (its own earlier prunings, or prunings of prunings of it). Anything else there (an original model, or a
 * pruning of another model) would be replaced by the new version for every request naming no version:
 * pruning `byte-gpt-pruned` into `byte-gpt` made plain `byte-gpt` requests get a pruned model.
 *
 * Run at submit and again right before storing: the store can change while the job runs.
 */
export async function checkOutputName(models: ModelStore, outputName: string, source: StoredModel): Promise<void> {
  if (outputName === source.name) {
    throw new SiftError(
      'invalid_argument',
      `spec.output_name "${outputName}" is the source model's name: a new version there would replace the source for every request that names no version; choose another name`,
    );
  }
  const target = outputName || prunedNameOf(source.name);
  const sourceOriginal = originalOf(source.manifest) ?? source.name;
  for (const version of (await models.list()).filter((m) => m.name === target)) {
    const original = originalOf(version.manifest);
    if (original === undefined) {
      throw new SiftError(
        'failed_precondition',
        `spec.output_name: model ${target} holds version ${version.version}, which is not a pruning (an original model); a pruned version there would replace it for every request that names no version; choose another name`,
      );
    }
    if (original !== sourceOriginal) {
      throw new SiftError(
        'failed_precondition',
        `spec.output_name: model ${target} holds version ${version.version}, a pruning of ${original}, while this job prunes ${source.name} (from ${sourceOriginal}); choose another name`,
      );
    }
  }
}
