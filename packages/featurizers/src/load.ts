/**
 * Builds the featurizer a model manifest asks for, from its `preprocessing` block and the model folder
 * (where files such as a vocabulary live).
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { CodeNgramsFeaturizer } from './code-ngrams.js';
import type { Featurizer } from './featurizer.js';
import { GloveWordsFeaturizer } from './glove-words.js';
import { createHfFeaturizer } from './hf-featurizer.js';

/** Preprocessing kinds {@link createFeaturizer} knows. */
export const featurizerKinds: readonly string[] = ['glove-words', 'code-ngrams', 'hf-tokenizer'];

/**
 * A manifest's `preprocessing` block cannot be turned into a featurizer: unknown kind, missing or invalid
 * option, unreadable file, or a graph that lacks the input the featurizer produces. The message names the
 * kind and the key.
 */
export class PreprocessingError extends Error {
  override readonly name = 'PreprocessingError';
}

/**
 * Creates the featurizer for `preprocessing.kind`.
 *
 * - `glove-words`: keys `vocab` (file in `modelDir`, one word per line, line k = id k, line 0 = padding)
 *   and `maxTokens`; feeds `token_ids` int64 [batch, tokens].
 * - `code-ngrams`: keys `buckets`, `maxTokens`, optional `charNgramMin`/`charNgramMax` (3/5) and `hash`
 *   (must be `fnv1a32`, the only one implemented); feeds `features` float32 [batch, buckets].
 *
 * When `graphInputNames` is given, the inputs the featurizer feeds must all be among them.
 *
 * @throws PreprocessingError naming the unknown kind or the faulty key.
 */
export async function createFeaturizer(
  modelDir: string,
  preprocessing: Record<string, unknown>,
  graphInputNames?: readonly string[],
): Promise<Featurizer> {
  const kind = preprocessing.kind;
  let featurizer: Featurizer;
  let feeds: string[];
  switch (kind) {
    case 'hf-tokenizer':
      // A Hugging Face tokenizer.json; it checks its own inputs against the graph.
      try {
        return await createHfFeaturizer(modelDir, preprocessing, graphInputNames);
      } catch (err) {
        // The featurizer's own messages already start with "hf-tokenizer:"; others (a tokenizer.json that
        // does not parse) get it here.
        const message = (err as Error).message;
        throw new PreprocessingError(message.startsWith('hf-tokenizer:') ? message : `hf-tokenizer: ${message}`, {
          cause: err,
        });
      }
    case 'glove-words': {
      const vocabPath = fileInside(modelDir, requireString(preprocessing, kind, 'vocab'), kind);
      const maxTokens = requirePositiveInteger(preprocessing, kind, 'maxTokens');
      let text: string;
      try {
        text = await readFile(vocabPath, 'utf8');
      } catch (err) {
        throw new PreprocessingError(`glove-words: cannot read vocabulary ${vocabPath}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      featurizer = GloveWordsFeaturizer.fromVocabText(text, { maxTokens });
      feeds = ['token_ids'];
      break;
    }
    case 'code-ngrams': {
      const hash = preprocessing.hash;
      if (hash !== undefined && hash !== 'fnv1a32') {
        throw new PreprocessingError(`code-ngrams: "hash" ${JSON.stringify(hash)} is not supported (only "fnv1a32")`);
      }
      featurizer = new CodeNgramsFeaturizer({
        buckets: requirePositiveInteger(preprocessing, kind, 'buckets'),
        maxTokens: requirePositiveInteger(preprocessing, kind, 'maxTokens'),
        charNgramMin: optionalPositiveInteger(preprocessing, kind, 'charNgramMin') ?? 3,
        charNgramMax: optionalPositiveInteger(preprocessing, kind, 'charNgramMax') ?? 5,
      });
      feeds = ['features'];
      break;
    }
    default:
      throw new PreprocessingError(
        `unknown preprocessing kind ${JSON.stringify(kind)}; known kinds: ${featurizerKinds.join(', ')}`,
      );
  }
  if (graphInputNames) {
    const missing = feeds.filter((name) => !graphInputNames.includes(name));
    if (missing.length > 0) {
      throw new PreprocessingError(
        `${kind}: the graph has no input ${missing.map((n) => `"${n}"`).join(', ')} (has: ${graphInputNames.join(', ')})`,
      );
    }
  }
  return featurizer;
}

function requireString(pre: Record<string, unknown>, kind: string, key: string): string {
  const v = pre[key];
  if (typeof v !== 'string' || v === '') {
    throw new PreprocessingError(`${kind}: "${key}" must be a non-empty string, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalPositiveInteger(pre: Record<string, unknown>, kind: string, key: string): number | undefined {
  return pre[key] === undefined ? undefined : requirePositiveInteger(pre, kind, key);
}

function requirePositiveInteger(pre: Record<string, unknown>, kind: string, key: string): number {
  const v = pre[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new PreprocessingError(`${kind}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Resolves a manifest-named file, refusing paths that leave the model folder. */
function fileInside(modelDir: string, name: string, kind: string): string {
  const path = resolve(modelDir, name);
  const rel = relative(resolve(modelDir), path);
  if (rel === '' || rel.split(sep)[0] === '..' || isAbsolute(rel)) {
    throw new PreprocessingError(`${kind}: file ${JSON.stringify(name)} is outside the model folder`);
  }
  return path;
}
