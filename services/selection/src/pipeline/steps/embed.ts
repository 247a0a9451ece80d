import { selectionV1 } from '@sift/contracts';
import { requireKnownEnum } from '@sift/kit';
import { intIn } from './fields.js';

/** Embedding the alive records, with its defaults filled in. */
export interface ResolvedEmbed {
  kind: 'embed';
  /** Empty: the embedding service's default model. */
  model: string;
  version: string;
  batchSize: number;
  dimensions: number;
  /** Records with an all-zero vector: kept aside from the embedding-space steps, or dropped. */
  unreadable: 'keep' | 'drop';
}

/** Texts per request to the embedding service when the step sets none. */
const defaultEmbedBatchSize = 256;

/** Resolves an embed step; `field` names it in errors (`steps[i].embed`). */
export function resolveEmbed(v: selectionV1.EmbedStep, field: string): ResolvedEmbed {
  return {
    kind: 'embed',
    model: v.model?.name ?? '',
    version: v.model?.version ?? '',
    batchSize: intIn(v.batchSize || defaultEmbedBatchSize, 1, 2048, `${field}.batch_size`),
    dimensions: v.dimensions,
    unreadable:
      requireKnownEnum(v.unreadable, selectionV1.UnreadablePolicy, `${field}.unreadable`) ===
      selectionV1.UnreadablePolicy.UNREADABLE_POLICY_DROP
        ? 'drop'
        : 'keep',
  };
}
