import { selectionV1 } from '@sift/contracts';
import { requireKnownEnum } from '@sift/kit';
import { inRange } from './fields.js';

/** Which end of the prototypicality ranking SSL prototypes (and D4's second pass) drop. */
export type PrototypeDropRule = 'most-prototypical' | 'hardest';

/** SSL prototype pruning with its defaults filled in. */
export interface ResolvedSslPrototypes {
  kind: 'ssl-prototypes';
  keepFraction: number;
  drop: PrototypeDropRule;
}

/** Resolves an ssl_prototypes step; `field` names it in errors (`steps[i].ssl_prototypes`). */
export function resolveSslPrototypes(v: selectionV1.SslPrototypesStep, field: string): ResolvedSslPrototypes {
  return {
    kind: 'ssl-prototypes',
    keepFraction: inRange(v.keepFraction, 0, 1, `${field}.keep_fraction`, true),
    drop: prototypeDropOf(v.drop, `${field}.drop`),
  };
}

/** The contract's PrototypeDrop as the domain names it; unspecified drops the most prototypical. */
export function prototypeDropOf(v: selectionV1.PrototypeDrop, field: string): PrototypeDropRule {
  return requireKnownEnum(v, selectionV1.PrototypeDrop, field) === selectionV1.PrototypeDrop.PROTOTYPE_DROP_HARDEST
    ? 'hardest'
    : 'most-prototypical';
}
