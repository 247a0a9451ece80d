import type { selectionV1 } from '@sift/contracts';
import { echoed, SiftError } from '@sift/kit';
import { type ResolvedD4, resolveD4 } from './steps/d4.js';
import { type ResolvedDensityPruning, resolveDensityPruning } from './steps/density-pruning.js';
import { type ResolvedEmbed, resolveEmbed } from './steps/embed.js';
import { type ResolvedExactDedup, resolveExactDedup } from './steps/exact-dedup.js';
import { type ResolvedKMeans, resolveKMeans } from './steps/kmeans.js';
import { type ResolvedLongFilePruning, resolveLongFilePruning } from './steps/long-file-pruning.js';
import { type ResolvedMinHashDedup, resolveMinHashDedup } from './steps/minhash-dedup.js';
import { type ResolvedScip, resolveScip } from './steps/scip.js';
import { type ResolvedSemDedup, resolveSemDedup } from './steps/sem-dedup.js';
import { type ResolvedSslPrototypes, resolveSslPrototypes } from './steps/ssl-prototypes.js';
import { type ResolvedTextQuality, resolveTextQuality } from './steps/text-quality.js';

// A submitted step becomes a ResolvedStep here: each kind's parameters, their defaults and range checks
// are in steps/<kind>.ts; the stage that runs it is in stages/<kind>.ts.

export { defaultPointsPerCentroid, type KMeansParams } from './steps/kmeans.js';

/** The parameters of a step of any kind, every default filled in and every range checked. */
export type StepParameters =
  | ResolvedExactDedup
  | ResolvedMinHashDedup
  | ResolvedEmbed
  | ResolvedKMeans
  | ResolvedSemDedup
  | ResolvedSslPrototypes
  | ResolvedD4
  | ResolvedLongFilePruning
  | ResolvedScip
  | ResolvedTextQuality
  | ResolvedDensityPruning;

/** A pipeline step with every default filled in and every range checked. */
export type ResolvedStep = { name: string } & StepParameters;

/** The resolved step of one kind (`StepOf<'kmeans'>`). */
export type StepOf<K extends ResolvedStep['kind']> = Extract<ResolvedStep, { kind: K }>;

type StepCase = NonNullable<selectionV1.Step['kind']>;

/** What a step needs an earlier one to have made: embeddings (an embed step), clusters (a kmeans after it). */
const prerequisite: Partial<Record<StepCase['$case'], 'embeddings' | 'clusters'>> = {
  kmeans: 'embeddings',
  semDedup: 'clusters',
  sslPrototypes: 'clusters',
  d4: 'clusters',
  scip: 'clusters',
  densityPruning: 'clusters',
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
    // The contract's default: the kind in snake case, "_<n>" from its second occurrence on ("kmeans_2").
    // The same snake-case name is the step's field in error messages (`steps[3].sem_dedup.eps`).
    const kindName = kind.$case.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const occurrence = (occurrences.get(kind.$case) ?? 0) + 1;
    occurrences.set(kind.$case, occurrence);
    const name = step.name || (occurrence === 1 ? kindName : `${kindName}_${occurrence}`);
    if (names.has(name))
      throw new SiftError('invalid_argument', `${at}.name: "${echoed(name)}" is used by an earlier step`);
    names.add(name);
    const needs = prerequisite[kind.$case];
    if (needs === 'embeddings' && !embedded) {
      throw new SiftError('invalid_argument', `${at} (${kind.$case}) needs an embed step before it`);
    }
    if (needs === 'clusters' && !clustered) {
      throw new SiftError('invalid_argument', `${at} (${kind.$case}) needs a kmeans step after the last embed step`);
    }
    out.push({ name, ...resolveKind(kind, `${at}.${kindName}`) });
    if (kind.$case === 'embed') {
      embedded = true;
      clustered = false;
    } else if (kind.$case === 'kmeans') {
      clustered = true;
    }
  });
  return out;
}

/** A resolver: checks one kind of step's fields and fills in their defaults; `field` names the kind in errors. */
type Resolver<C extends StepCase['$case']> = (
  v: Extract<StepCase, { $case: C }>['value'],
  field: string,
) => StepParameters;

/** Each step kind's resolver, in steps/<kind>.ts (the stage that runs it is in stages/<kind>.ts). */
const resolverOfCase: { [C in StepCase['$case']]: Resolver<C> } = {
  exactDedup: resolveExactDedup,
  minhashDedup: resolveMinHashDedup,
  embed: resolveEmbed,
  kmeans: resolveKMeans,
  semDedup: resolveSemDedup,
  sslPrototypes: resolveSslPrototypes,
  d4: resolveD4,
  longFilePruning: resolveLongFilePruning,
  scip: resolveScip,
  textQuality: resolveTextQuality,
  densityPruning: resolveDensityPruning,
};

/** One step's parameters, resolved by its kind's resolver; `field` names the step's kind field in errors. */
function resolveKind(kind: StepCase, field: string): StepParameters {
  // The table pairs each case with its own resolver, so the value always has the type its resolver takes.
  const resolve = resolverOfCase[kind.$case] as Resolver<StepCase['$case']>;
  return resolve(kind.value, field);
}
