import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Bus, subjects } from '@sift/bus';
import { commonV1, type selectionV1 } from '@sift/contracts';
import type { DataRoots } from '@sift/datasets';
import { endJob, type JobProgressReporter, JobWorker, jobProgressReporter, type RunRecord } from '@sift/jobs';
import { type Logger, SiftError } from '@sift/kit';
import type { SelectionKernels } from '../adapters/onnx-kernels.js';
import { decisionBytesBound, decisionOf } from '../pipeline/decisions.js';
import { checkJobPaths, checkOutputClaim } from '../pipeline/output-location.js';
import { type LoadedDataset, loadDataset, writeOutputs } from '../pipeline/outputs.js';
import type { StageSummary } from '../pipeline/report.js';
import { progressUnitOf, runStage, type StageContext } from '../pipeline/stages.js';
import { initialState, loadSnapshot, type PipelineState, saveSnapshot } from '../pipeline/state.js';
import { type ResolvedStep, resolveSteps } from '../pipeline/steps.js';
import type { LanguageModelScorer, TextEmbedder } from '../ports.js';
import { type JobStore, selectionJobEvents } from './job-store.js';

/**
 * Runs selection jobs taken from the work queue. A job's stages run in order; after each one its result
 * is saved, so a job whose worker died continues from the last saved stage when JetStream hands it to
 * this or another replica. Cancellation is checked at every progress tick.
 */
export class SelectionWorker extends JobWorker<selectionV1.Job> {
  constructor(
    store: JobStore,
    private readonly bus: Bus,
    private readonly embedder: TextEmbedder,
    private readonly kernels: SelectionKernels,
    logger: Logger,
    private readonly dataRoots: DataRoots,
    private readonly limits: { maxDatasetChars: number },
    private readonly languageModels?: LanguageModelScorer,
  ) {
    super(store, logger, 'selection');
  }

  protected async execute(job: selectionV1.Job, controller: AbortController, log: Logger): Promise<void> {
    const jobId = job.status?.jobId ?? '';
    const dir = this.store.dir(jobId);
    const steps = resolveSteps(job.steps);
    const run = await this.markRunning(jobId, steps.length + 2);
    log.info('job running', { resumingAfterStage: run.completedStages });

    const progress = jobProgressReporter({
      jobId,
      store: this.store,
      controller,
      publish: (status) => this.bus.publish(subjects.selectionJobProgressed, { status }, jobId),
      logger: this.logger,
    });
    const { dataset, output } = job;
    if (!dataset) throw new SiftError('invalid_argument', 'dataset is required');
    if (!output) throw new SiftError('invalid_argument', 'output is required');
    await checkJobPaths(this.dataRoots, dataset, output, steps);
    progress.stage('load', 0, 'records');
    const loaded = await loadDataset(dataset, progress.tick, this.limits.maxDatasetChars);
    const state = await resumedState(dir, run.completedStages, loaded);
    const summaries = await this.runStages(jobId, steps, state, {
      from: run.completedStages,
      progress,
      signal: controller.signal,
      log,
    });

    progress.stage('write', steps.length + 1, 'records');
    nameEmbedModelsRun(steps, summaries);
    await this.checkPathsBeforeWriting(jobId, dataset, output, steps);
    const report = await writeOutputs(jobId, dataset, output, steps, state, summaries, progress.tick);
    await listStageOutputs(report, steps, dir);
    await this.publishDecisions(jobId, state);
    await this.finish(jobId, commonV1.JobState.JOB_STATE_SUCCEEDED, report);
    log.info('job succeeded', { kept: report.recordsKept, total: report.recordsTotal });
  }

  /**
   * The job's paths again before it writes: the output folder may have been swapped for a link while the
   * stages ran, or claimed by a later job submitted with output.overwrite.
   */
  private async checkPathsBeforeWriting(
    jobId: string,
    dataset: selectionV1.Dataset,
    output: selectionV1.OutputSpec,
    steps: readonly ResolvedStep[],
  ): Promise<void> {
    await checkJobPaths(this.dataRoots, dataset, output, steps);
    await checkOutputClaim(output, jobId);
  }

  /** Marks the job running with its stage count (load, the steps, write); CANCELLED when a client asked first. */
  private async markRunning(jobId: string, stageCount: number): Promise<RunRecord> {
    const run = await this.store.run(jobId);
    if (run.cancelRequested) throw new SiftError('cancelled', 'cancelled by a client');
    await this.store.update(jobId, (j) => {
      if (!j.status) return;
      j.status.state = commonV1.JobState.JOB_STATE_RUNNING;
      j.status.stageCount = stageCount;
      j.startedAtMs ||= Date.now();
    });
    return run;
  }

  /**
   * Runs the steps from `from` on, in order, saving the state and the run record after each so that a
   * restarted job continues after the last saved stage. Returns every stage's summary, those of the stages
   * an earlier run completed included.
   */
  private async runStages(
    jobId: string,
    steps: readonly ResolvedStep[],
    state: PipelineState,
    run: { from: number; progress: JobProgressReporter; signal: AbortSignal; log: Logger },
  ): Promise<StageSummary[]> {
    const dir = this.store.dir(jobId);
    const summaries: StageSummary[] = state.stageFacts.map((f) => f.summary as StageSummary);
    for (let i = run.from; i < steps.length; i++) {
      const step = steps[i] as ResolvedStep;
      run.progress.stage(step.name, i + 1, progressUnitOf(step.kind));
      const summary = await summarizedStage(step, state, {
        embedder: this.embedder,
        kernels: this.kernels,
        progress: run.progress.tick,
        signal: run.signal,
        ...(this.languageModels ? { languageModels: this.languageModels } : {}),
      });
      summaries.push(summary);
      state.stageFacts.push({ summary });
      await saveSnapshot(dir, i, state, step.kind === 'embed');
      await this.store.saveRun(jobId, { ...(await this.store.run(jobId)), completedStages: i + 1 });
      run.log.info('stage finished', { stage: step.name, kept: summary.recordsKept, of: summary.recordsIn });
    }
    return summaries;
  }

  /**
   * Final per-record decisions as records_decided events (the metrics consumer stores them), at most 5,000
   * per event and at most half the server's largest message: long record ids (URLs) made a 5,000-decision
   * event exceed NATS's max_payload, which failed jobs whose outputs were already written.
   */
  private async publishDecisions(jobId: string, state: PipelineState): Promise<void> {
    const maxDecisions = 5000;
    const maxBytes = Math.floor(this.bus.maxPayloadBytes() / 2);
    let sequence = 0;
    let decisions: selectionV1.RecordDecision[] = [];
    let bytes = 0;
    const send = async () => {
      if (decisions.length === 0) return;
      const event = { jobId, sequence: sequence++, decisions, publishedAtMs: Date.now() };
      decisions = [];
      bytes = 0;
      await this.bus.publish(subjects.selectionRecordsDecided, event, jobId);
    };
    for (let i = 0; i < state.ids.length; i++) {
      const decision = decisionOf(state, i);
      const size = decisionBytesBound(decision);
      if (decisions.length >= maxDecisions || (decisions.length > 0 && bytes + size > maxBytes)) await send();
      decisions.push(decision);
      bytes += size;
    }
    await send();
  }

  protected async settle(jobId: string, state: commonV1.JobState, error: string): Promise<void> {
    await endJob(this.store, this.bus, selectionJobEvents, jobId, state, { error });
  }

  private async finish(jobId: string, state: commonV1.JobState, report: selectionV1.SelectionReport): Promise<void> {
    await endJob(this.store, this.bus, selectionJobEvents, jobId, state, {
      record: (j) => {
        j.report = report;
        // Progress is written at most every 250 ms (and a write queued before the end is dropped): a finished
        // job shows its last stage complete, not its last throttled update.
        if (!j.status) return;
        const n = report.recordsTotal;
        j.status.progress = { stage: 'write', done: n, total: n, etaSeconds: 0, unit: 'records' };
        j.status.stageIndex = j.status.stageCount - 1;
      },
    });
  }
}

/**
 * The state after the last stage an earlier run completed, or, when none did, every record alive but the
 * invalid ones the load skipped. A saved stage holds those drops already: the records are addressed by their
 * position in the dataset, invalid ones included, so a resumed job's positions are the first run's.
 */
async function resumedState(dir: string, completedStages: number, loaded: LoadedDataset): Promise<PipelineState> {
  const { ids, texts, invalid } = loaded;
  if (completedStages > 0) return await loadSnapshot(dir, completedStages - 1, ids, texts);
  return initialState(ids, texts, invalid);
}

/** Runs one step and summarises it for the report: records in and kept, seconds, and the stage's facts. */
async function summarizedStage(step: ResolvedStep, state: PipelineState, ctx: StageContext): Promise<StageSummary> {
  const before = countAlive(state);
  const started = performance.now();
  const facts = await runStage(step, state, ctx);
  return {
    stage: step.name,
    kind: step.kind,
    recordsIn: before,
    recordsKept: countAlive(state),
    seconds: (performance.now() - started) / 1000,
    ...facts,
  };
}

/**
 * Writes into each embed step the model it ran (`name@version` in its stage facts), so the report names it
 * where the request left the service's default.
 */
function nameEmbedModelsRun(steps: ResolvedStep[], summaries: readonly StageSummary[]): void {
  for (const [i, step] of steps.entries()) {
    const ran = (summaries[i]?.facts as { model?: string } | undefined)?.model;
    if (step.kind !== 'embed' || !ran) continue;
    const [model = '', version = ''] = ran.split('@');
    Object.assign(step, { model, version });
  }
}

/**
 * Lists in each stage of the report its saved state in the job folder (what a resumed job reuses) and the
 * index it saved. The embedding matrix file holds the last embed step's vectors.
 */
async function listStageOutputs(
  report: selectionV1.SelectionReport,
  steps: readonly ResolvedStep[],
  dir: string,
): Promise<void> {
  const saved = await readdir(dir);
  const lastEmbed = steps.findLastIndex((s) => s.kind === 'embed');
  report.stages.forEach((stage, i) => {
    const step = steps[i];
    stage.outputPaths = [
      ...saved.filter((f) => f.startsWith(`stage-${i}.`)).map((f) => join(dir, f)),
      ...(i === lastEmbed && saved.includes('embeddings.f32') ? [join(dir, 'embeddings.f32')] : []),
      ...(step && 'index' in step && step.index.save ? [step.index.save] : []),
    ];
  });
}

function countAlive(state: PipelineState): number {
  let n = 0;
  for (const a of state.alive) n += a;
  return n;
}
