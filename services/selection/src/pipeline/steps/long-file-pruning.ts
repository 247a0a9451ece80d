import type { selectionV1 } from '@sift/contracts';
import { echoed, SiftError } from '@sift/kit';
import { inRange, intIn } from './fields.js';

/** Long-file pruning with its defaults filled in: exactly one of `tokenShare` and `maxTokens` is set. */
export interface ResolvedLongFilePruning {
  kind: 'long-file-pruning';
  tokenShare: number;
  maxTokens: number;
  tokenizer: 'code-tokens' | 'utf8-bytes';
}

/** Resolves a long_file_pruning step; `field` names it in errors (`steps[i].long_file_pruning`). */
export function resolveLongFilePruning(v: selectionV1.LongFilePruningStep, field: string): ResolvedLongFilePruning {
  const limit = v.limit;
  if (!limit) throw new SiftError('invalid_argument', `${field}: set token_share or max_tokens`);
  const tokenizer = v.tokenizer?.name || 'code-tokens';
  if (tokenizer !== 'code-tokens' && tokenizer !== 'utf8-bytes') {
    throw new SiftError(
      'invalid_argument',
      `${field}.tokenizer: "${echoed(tokenizer)}" is not available; use "code-tokens" (default) or "utf8-bytes"`,
    );
  }
  return {
    kind: 'long-file-pruning',
    tokenShare: limit.$case === 'tokenShare' ? inRange(limit.value, 0, 1, `${field}.token_share`) : 0,
    maxTokens: limit.$case === 'maxTokens' ? intIn(limit.value, 1, Number.MAX_SAFE_INTEGER, `${field}.max_tokens`) : 0,
    tokenizer,
  };
}
