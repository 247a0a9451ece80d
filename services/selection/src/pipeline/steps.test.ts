import { selectionV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { toProtoStep } from './resolved-steps.js';
import { defaultPointsPerCentroid, maxSteps, resolveSteps } from './steps.js';

const step = (name: string, kind: NonNullable<selectionV1.Step['kind']>) =>
  selectionV1.Step.fromPartial({ name, kind: kind as never });

/** One step of every kind, mostly left to the defaults, in an order the pipeline accepts. */
const everyKind = [
  step('exact', { $case: 'exactDedup', value: selectionV1.ExactDedupStep.fromPartial({}) }),
  step('minhash', {
    $case: 'minhashDedup',
    value: selectionV1.MinHashDedupStep.fromPartial({ jaccardThreshold: 0.7 }),
  }),
  step('long', {
    $case: 'longFilePruning',
    value: selectionV1.LongFilePruningStep.fromPartial({ limit: { $case: 'maxTokens', value: 4000 } }),
  }),
  step('quality', {
    $case: 'textQuality',
    value: selectionV1.TextQualityStep.fromPartial({ keepFraction: 0.8, filters: [1, 5] }),
  }),
  step('embed', {
    $case: 'embed',
    value: selectionV1.EmbedStep.fromPartial({ model: { name: 'glove-sif-100d', version: '' } }),
  }),
  step('cluster', { $case: 'kmeans', value: selectionV1.KMeansStep.fromPartial({ k: 40, seed: 7 }) }),
  step('semdedup', { $case: 'semDedup', value: selectionV1.SemDedupStep.fromPartial({ eps: 0.05, keep: 2 }) }),
  step('ssl', { $case: 'sslPrototypes', value: selectionV1.SslPrototypesStep.fromPartial({ keepFraction: 0.9 }) }),
  step('dbp', {
    $case: 'densityPruning',
    value: selectionV1.DensityPruningStep.fromPartial({ target: { $case: 'keepFraction', value: 0.8 } }),
  }),
  step('scip', { $case: 'scip', value: selectionV1.ScipStep.fromPartial({ pruneFraction: 0.1 }) }),
  step('d4', {
    $case: 'd4',
    value: selectionV1.D4Step.fromPartial({ keepRatio: 0.5, recluster: { k: 20, sampleSize: 0 } }),
  }),
];

describe('resolved steps', () => {
  it('fits k-means on 256 records per centroid unless the step sets a sample size; 0 means all records', () => {
    const [, , , , , cluster, , , , , d4] = resolveSteps(everyKind);
    expect(cluster).toMatchObject({
      kind: 'kmeans',
      k: 40,
      sampleSize: defaultPointsPerCentroid * 40,
      maxIterations: 20,
    });
    expect(d4).toMatchObject({ kind: 'd4', recluster: { k: 20, sampleSize: 0 } });
    const explicit = step('c', {
      $case: 'kmeans',
      value: selectionV1.KMeansStep.fromPartial({ k: 3, sampleSize: 500 }),
    });
    const [, resolved] = resolveSteps([everyKind[4] as selectionV1.Step, explicit]);
    expect(resolved).toMatchObject({ sampleSize: 500 });
  });

  it('reads mini-batch k-means; refuses NaN, a missing SemDeDup eps and enum numbers the contract lacks', () => {
    const withStep = (kind: NonNullable<selectionV1.Step['kind']>) => [...everyKind.slice(0, 6), step('last', kind)];
    const refusal = (kind: NonNullable<selectionV1.Step['kind']>) => {
      try {
        resolveSteps(withStep(kind));
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    const semDedup = (v: Partial<selectionV1.SemDedupStep>) =>
      refusal({ $case: 'semDedup', value: selectionV1.SemDedupStep.fromPartial(v) });
    expect(semDedup({})).toBe('steps[6].sem_dedup.eps must be in (0, 1), got 0');
    expect(semDedup({ eps: Number.NaN })).toBe('steps[6].sem_dedup.eps must be in (0, 1), got NaN');
    expect(semDedup({ eps: 0.05, keep: 99 as selectionV1.SemDedupKeep })).toMatch(
      /^steps\[6\]\.sem_dedup\.keep has the unknown value 99; expected one of /,
    );
    expect(semDedup({ eps: 0.05, comparison: 7 as selectionV1.SemDedupComparison })).toMatch(
      /^steps\[6\]\.sem_dedup\.comparison has the unknown value 7/,
    );
    const embed = (v: Partial<selectionV1.EmbedStep>) =>
      refusal({ $case: 'embed', value: selectionV1.EmbedStep.fromPartial(v) });
    expect(embed({ unreadable: 5 as selectionV1.UnreadablePolicy })).toMatch(
      /^steps\[6\]\.embed\.unreadable has the unknown value 5/,
    );
    const miniBatch = resolveSteps(
      withStep({ $case: 'kmeans', value: selectionV1.KMeansStep.fromPartial({ k: 4, miniBatchSize: 512 }) }),
    );
    expect(miniBatch.at(-1)).toMatchObject({ kind: 'kmeans', k: 4, miniBatchSize: 512 });
    const kmeans = refusal({
      $case: 'kmeans',
      value: selectionV1.KMeansStep.fromPartial({ k: 4, tolerance: Number.NaN }),
    });
    expect(kmeans).toBe('steps[6].kmeans.tolerance must be in (0, 1), got NaN');
  });

  it('names unnamed steps by their kind, numbering a kind from its second occurrence', () => {
    const unnamed = (s: selectionV1.Step) => ({ ...s, name: '' });
    const kmeans = unnamed(everyKind[5] as selectionV1.Step);
    const names = resolveSteps([
      unnamed(everyKind[0] as selectionV1.Step),
      unnamed(everyKind[4] as selectionV1.Step),
      kmeans,
      unnamed(everyKind[7] as selectionV1.Step),
      kmeans,
    ]).map((s) => s.name);
    expect(names).toEqual(['exact_dedup', 'embed', 'kmeans', 'ssl_prototypes', 'kmeans_2']);
  });

  it(`takes at most ${maxSteps} steps, numbering each kind's occurrences up to the last one`, () => {
    const exact = { ...(everyKind[0] as selectionV1.Step), name: '' };
    const minhash = { ...(everyKind[1] as selectionV1.Step), name: '' };
    const full = Array.from({ length: maxSteps }, (_, i) => (i % 2 === 0 ? exact : minhash));
    const names = resolveSteps(full).map((s) => s.name);
    expect(names.slice(0, 4)).toEqual(['exact_dedup', 'minhash_dedup', 'exact_dedup_2', 'minhash_dedup_2']);
    expect(names.at(-1)).toBe(`minhash_dedup_${maxSteps / 2}`);
    expect(new Set(names).size).toBe(maxSteps);
    expect(() => resolveSteps([...full, exact])).toThrow(
      expect.objectContaining({
        kind: 'invalid_argument',
        message: `steps: ${maxSteps + 1} steps; a pipeline has at most ${maxSteps} (split the work into several jobs)`,
      }),
    );
  });

  it('verifies MinHash candidates unless the step turns it off explicitly', () => {
    const minhash = (v: Partial<selectionV1.MinHashDedupStep>) =>
      resolveSteps([step('m', { $case: 'minhashDedup', value: selectionV1.MinHashDedupStep.fromPartial(v) })])[0];
    expect(minhash({})).toMatchObject({ verifyCandidates: true });
    expect(minhash({ verifyCandidates: false })).toMatchObject({ verifyCandidates: false });
  });

  it('answers every default written out, and submitting the answer again resolves to the same pipeline', () => {
    const resolved = resolveSteps(everyKind);
    const answered = resolved.map(toProtoStep);
    // Through the wire format, as a client receives them.
    const received = answered.map((s) => selectionV1.Step.decode(selectionV1.Step.encode(s).finish()));
    expect(resolveSteps(received)).toEqual(resolved);
    const semDedup = received[6]?.kind;
    expect(semDedup?.$case === 'semDedup' && semDedup.value).toMatchObject({
      eps: 0.05,
      reportEps: [0.01, 0.02, 0.05, 0.1],
      keep: selectionV1.SemDedupKeep.SEM_DEDUP_KEEP_EASIEST,
      blockRows: 1024,
    });
    const cluster = received[5]?.kind;
    expect(cluster?.$case === 'kmeans' && cluster.value).toMatchObject({ sampleSize: 10240, tolerance: 1e-5 });
    const embed = received[4]?.kind;
    expect(embed?.$case === 'embed' && embed.value.unreadable).toBe(
      selectionV1.UnreadablePolicy.UNREADABLE_POLICY_KEEP,
    );
    const quality = received[3]?.kind;
    expect(quality?.$case === 'textQuality' && quality.value).toMatchObject({
      filters: [1, 5],
      languageModel: { name: 'byte-gpt' },
      weightSampleSize: 300,
    });
  });
});
