import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { commonV1, selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { toProtoStep } from '../pipeline/resolved-steps.js';
import { type ResolvedStep, resolveSteps } from '../pipeline/steps.js';
import type { JobStore } from './job-store.js';

/** What a new job takes over from a failed or cancelled one: its first `stages` saved stages. */
export interface ResumePlan {
  from: string;
  stages: number;
}

/**
 * Which saved stages of job `from` a new job with `dataset` and `steps` can reuse: the leading steps that
 * are identical (after defaults are filled in) and that `from` finished, when the dataset is the same.
 * The embedding matrix is saved once per job and replaced by each embed step, so when `from` ran an embed
 * step past the reused ones, the reuse stops before the first embed step within them (it runs again).
 */
export async function planResume(
  store: JobStore,
  from: string,
  dataset: selectionV1.Dataset,
  steps: readonly ResolvedStep[],
): Promise<ResumePlan> {
  const old = await store.get(from);
  const state = old.status?.state;
  if (state !== commonV1.JobState.JOB_STATE_FAILED && state !== commonV1.JobState.JOB_STATE_CANCELLED) {
    throw new SiftError(
      'failed_precondition',
      `job ${from} is ${commonV1.jobStateToJSON(state ?? 0)}; only a failed or cancelled job can be resumed`,
    );
  }
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
  const encodedDataset = (d: selectionV1.Dataset | undefined) =>
    selectionV1.Dataset.encode(d ?? selectionV1.Dataset.fromPartial({})).finish();
  if (!same(encodedDataset(old.dataset), encodedDataset(dataset))) {
    throw new SiftError(
      'failed_precondition',
      `job ${from} read another dataset (paths, fields, limit or invalid-record handling differ); resume it with the same dataset`,
    );
  }
  const oldSteps = resolveSteps(old.steps);
  const encodedStep = (s: ResolvedStep) => selectionV1.Step.encode(toProtoStep(s)).finish();
  const finished = (await store.run(from)).completedStages;
  let stages = 0;
  while (
    stages < Math.min(finished, steps.length, oldSteps.length) &&
    same(encodedStep(steps[stages] as ResolvedStep), encodedStep(oldSteps[stages] as ResolvedStep))
  ) {
    stages++;
  }
  if (oldSteps.slice(stages, finished).some((s) => s.kind === 'embed')) {
    const firstEmbed = steps.slice(0, stages).findIndex((s) => s.kind === 'embed');
    if (firstEmbed >= 0) stages = firstEmbed;
  }
  return { from, stages };
}

/**
 * Copies the saved state of the first `plan.stages` stages of `plan.from` into job `to`'s folder and
 * records them as done, so its worker continues after them (the worker's restart path). Runs before `to`
 * is queued.
 */
export async function takeOverStages(store: JobStore, plan: ResumePlan, to: string): Promise<void> {
  if (plan.stages === 0) return;
  const source = store.dir(plan.from);
  const target = store.dir(to);
  const wanted = (name: string) => {
    if (name === 'embeddings.f32') return true;
    const m = /^stage-(\d+)\./.exec(name);
    return m !== null && Number(m[1]) < plan.stages;
  };
  for (const name of (await readdir(source)).filter(wanted)) {
    await copyFile(join(source, name), join(target, name));
  }
  await store.saveRun(to, { completedStages: plan.stages, cancelRequested: false });
}
