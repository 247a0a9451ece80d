import { type Bus, subjects } from '@sift/bus';
import { commonV1, type pruningV1 } from '@sift/contracts';
import type { ModelStore } from '@sift/inference';
import { endJob, JobCheckpoints, JobWorker, jobProgressReporter } from '@sift/jobs';
import { type Logger, SiftError } from '@sift/kit';
import { analyseBlocks, type PruningRuntime } from '../pipeline/analysis.js';
import { writeAnalysisReport, writePruningReport } from '../pipeline/analysis-report.js';
import { evaluateBestBlocks } from '../pipeline/block-evaluation.js';
import { analysisRunCodec, distancesOfResult } from '../pipeline/checkpoint-codecs.js';
import { loadDecoder, resolveDecoder } from '../pipeline/decoder-model.js';
import { type AnalysisDistances, pruneModel } from '../pipeline/pruning.js';
import { type JobStore, pruningJobEvents } from './job-store.js';

/**
 * Runs analysis and pruning jobs taken from the work queue. Each stage's result (distances, the healed
 * graph, the before/after figures, each row of a loss table) is saved in the job's folder as it finishes
 * (`JobCheckpoints`): a job whose worker died continues after its last finished stage when JetStream hands
 * it to this or another replica, and a model version it had already stored is found by its job id and
 * reused, not stored twice. Cancellation is checked after every batch.
 */
export class PruningWorker extends JobWorker<pruningV1.Job> {
  constructor(
    store: JobStore,
    private readonly bus: Bus,
    private readonly models: ModelStore,
    private readonly runtime: PruningRuntime,
    logger: Logger,
  ) {
    super(store, logger, 'pruning');
  }

  protected async execute(job: pruningV1.Job, controller: AbortController, log: Logger): Promise<void> {
    const jobId = job.status?.jobId ?? '';
    if ((await this.store.run(jobId)).cancelRequested) throw new SiftError('cancelled', 'cancelled by a client');
    await this.store.update(jobId, (j) => {
      if (!j.status) return;
      j.status.state = commonV1.JobState.JOB_STATE_RUNNING;
      j.startedAtMs ||= Date.now();
    });
    log.info('job running');
    const progress = jobProgressReporter({
      jobId,
      store: this.store,
      controller,
      publish: (status) => this.bus.publish(subjects.pruningJobProgressed, { status }, jobId),
      logger: this.logger,
    });
    const spec = job.spec;
    if (!spec) throw new SiftError('invalid_argument', 'the job has no spec');
    const checkpoints = new JobCheckpoints(this.store.dir(jobId), log);
    progress.stage('load');
    const decoder = await loadDecoder(await resolveDecoder(this.models, spec.value.model));
    const runtime = { ...this.runtime, externalWeights: decoder.external };
    if (spec.$case === 'analysis') {
      const analysed = await checkpoints.once(
        'analysis.json',
        analysisRunCodec(decoder.layerCount, spec.value.maxBlockSize || decoder.layerCount - 1),
        () => {
          progress.stage('capture', undefined, 'batches');
          return analyseBlocks(decoder, spec.value, runtime, progress.tick);
        },
      );
      let analysis = analysed.result;
      if (spec.value.evaluation) {
        const table = await evaluateBestBlocks(decoder, spec.value, analysis.bestBlocks, {
          runtime,
          signal: controller.signal,
          checkpoints,
          stage: (name, unit) => progress.stage(name, undefined, unit),
          tick: progress.tick,
        });
        analysis = { ...analysis, ...table };
      }
      progress.stage('distances');
      const result = await writeAnalysisReport(this.store.dir(jobId), analysis, analysed.distances);
      await this.finish(jobId, commonV1.JobState.JOB_STATE_SUCCEEDED, {
        result: { $case: 'analysisResult', value: result },
      });
      log.info('analysis succeeded', { layers: result.layerCount, best: result.bestBlocks[0] });
      return;
    }
    const analysis = spec.value.analysisJobId ? await this.analysisOf(spec.value.analysisJobId) : undefined;
    const pruned = await pruneModel(decoder, spec.value, analysis, {
      jobId,
      models: this.models,
      runtime,
      signal: controller.signal,
      checkpoints,
      stage: (name, unit) => progress.stage(name, undefined, unit),
      tick: progress.tick,
    });
    const result = await writePruningReport(this.store.dir(jobId), pruned.result, pruned.distances);
    const finishedAt = Date.now();
    await this.finish(jobId, commonV1.JobState.JOB_STATE_SUCCEEDED, {
      result: { $case: 'pruningResult', value: result },
    });
    await this.bus.publish(subjects.pruningRunCompleted, { jobId, result, completedAtMs: finishedAt });
    log.info('pruning succeeded', { model: result.prunedModel, removed: result.removedBlock });
  }

  /** The distance matrix of a succeeded analysis job (checked at submit; re-read here). */
  private async analysisOf(analysisJobId: string): Promise<AnalysisDistances> {
    const job = await this.store.get(analysisJobId);
    if (job.result?.$case !== 'analysisResult' || !job.result.value.distances) {
      throw new SiftError('failed_precondition', `analysis job ${analysisJobId} has no result`);
    }
    return { jobId: analysisJobId, distances: distancesOfResult(job.result.value), metric: job.result.value.metric };
  }

  protected settle(jobId: string, state: commonV1.JobState, error: string): Promise<void> {
    return this.finish(jobId, state, { error });
  }

  /** Records the job's end (with its result, when it succeeded) and announces it. */
  private async finish(
    jobId: string,
    state: commonV1.JobState,
    extra: { error?: string; result?: pruningV1.Job['result'] },
  ): Promise<void> {
    await endJob(this.store, this.bus, pruningJobEvents, jobId, state, {
      error: extra.error,
      record: (j) => {
        if (extra.result) j.result = extra.result;
        // The last stage complete, whatever its last throttled progress write said.
        if (state === commonV1.JobState.JOB_STATE_SUCCEEDED && j.status?.progress) {
          j.status.progress = { ...j.status.progress, done: 1, total: 1, etaSeconds: 0 };
        }
      },
    });
  }
}
