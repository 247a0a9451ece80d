import { type Bus, subjects } from '@sift/bus';
import { commonV1, pruningV1 } from '@sift/contracts';
import type { DataRoots } from '@sift/datasets';
import type { ModelStore } from '@sift/inference';
import { checkJobId, enqueueJob, jobServiceHandlers, submitOncePerRequest } from '@sift/jobs';
import {
  type CallContext,
  echoed,
  requireKnownEnum,
  SiftError,
  type StreamHandler,
  type UnaryHandler,
} from '@sift/kit';
import { type JobStore, pruningJobEvents } from '../jobs/job-store.js';
import { checkCalibration } from '../pipeline/analysis.js';
import { type DecoderModel, loadDecoder, residualStreamTensors, resolveDecoder } from '../pipeline/decoder-model.js';
import { checkEvaluation } from '../pipeline/evaluation.js';
import { checkOutputName } from '../pipeline/output-name.js';
import { checkCutPossible, checkPruningSpec, checkRidgeAlpha } from '../pipeline/pruning.js';
import { checkDatasetPath } from '../pipeline/text-corpus.js';

/**
 * Thin gRPC adapter: decode, validate against the model (so a bad block size or text fails the call, not
 * the job), queue, encode.
 */
export function pruningHandlers(
  store: JobStore,
  bus: Bus,
  models: ModelStore,
  dataRoots: DataRoots,
): Record<string, UnaryHandler | StreamHandler> {
  /**
   * Dataset files a spec names must be absolute paths inside the data roots; checked before anything reads
   * them.
   */
  const checkTextFiles = async (spec: {
    calibration?: pruningV1.CalibrationSpec | undefined;
    evaluation?: pruningV1.EvaluationSpec | undefined;
  }) => {
    for (const [corpus, field] of [
      [spec.calibration?.texts, 'spec.calibration.texts'],
      [spec.evaluation?.texts, 'spec.evaluation.texts'],
    ] as const) {
      if (corpus?.source?.$case !== 'dataset') continue;
      checkDatasetPath(corpus.source.value.path, `${field}.dataset.path`);
      await dataRoots.check(corpus.source.value.path, `${field}.dataset.path`);
    }
  };
  /** Layer structure per model folder; a model version never changes once stored. */
  const decoders = new Map<string, Promise<DecoderModel>>();
  const decoderOf = async (ref: commonV1.ModelRef | undefined) => {
    const stored = await resolveDecoder(models, ref);
    let d = decoders.get(stored.dir);
    if (!d) {
      d = loadDecoder(stored);
      decoders.set(stored.dir, d);
      d.catch(() => decoders.delete(stored.dir));
    }
    return d;
  };

  /**
   * Whether a retried submit repeats the request its key was first used with. The stored spec names the
   * model version it resolved to; a request that named none matches any.
   */
  const sameSpec = (stored: pruningV1.Job['spec'], spec: pruningV1.Job['spec']): boolean => {
    const normalized = (s: pruningV1.Job['spec'], version: string) =>
      s?.value
        ? Buffer.from(
            pruningV1.Job.encode({
              spec: { ...s, value: { ...s.value, model: { name: s.value.model?.name ?? '', version } } } as never,
              status: undefined,
              result: undefined,
              createdAtMs: 0,
              startedAtMs: 0,
              finishedAtMs: 0,
            }).finish(),
          )
        : Buffer.alloc(0);
    const version = spec?.value?.model?.version || stored?.value?.model?.version || '';
    return normalized(stored, version).equals(normalized(spec, version));
  };

  const enqueue = async (kind: pruningV1.JobKind, spec: pruningV1.Job['spec'], jobId: string, ctx: CallContext) => {
    const now = Date.now();
    const status: pruningV1.JobStatus = {
      jobId,
      kind,
      state: commonV1.JobState.JOB_STATE_QUEUED,
      progress: { stage: 'queued', done: 0, total: 0, etaSeconds: -1, unit: '' },
      error: '',
      updatedAtMs: now,
    };
    const record: pruningV1.Job = {
      status,
      spec,
      result: undefined,
      createdAtMs: now,
      startedAtMs: 0,
      finishedAtMs: 0,
    };
    // A client gone by now (its deadline passed while a large request was checked) gets no job.
    await enqueueJob(store, record, () => bus.publish(subjects.pruningJobSubmitted, { status }), ctx);
    return jobId;
  };

  /** One job per request id: a retry of the same request gets the job its id names (see `sameSpec`). */
  const submitOnce = (
    kind: 'analysis' | 'pruning',
    req: { requestId: string; spec?: unknown },
    create: (jobId: string) => Promise<{ jobId: string }>,
  ) =>
    submitOncePerRequest(store, req.requestId, {
      sameRequest: (job) => sameSpec(job.spec, { $case: kind, value: req.spec } as never),
      answer: (holder) => ({ jobId: holder }),
      create,
    });

  const submitAnalysis: UnaryHandler<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse> = (req, ctx) =>
    submitOnce('analysis', req, (jobId) => createAnalysis(req, ctx, jobId));

  const createAnalysis = async (
    req: pruningV1.SubmitAnalysisRequest,
    ctx: CallContext,
    jobId: string,
  ): Promise<pruningV1.SubmitAnalysisResponse> => {
    const spec = req.spec;
    if (!spec) throw new SiftError('invalid_argument', 'spec is required');
    requireKnownEnum(spec.metric, pruningV1.DistanceMetric, 'spec.metric');
    checkHealingEnums(spec.healing);
    const decoder = await decoderOf(spec.model);
    await checkTextFiles(spec);
    await checkCalibration(spec.calibration, decoder.contextLength, 'spec.calibration');
    if (spec.evaluation) {
      await checkEvaluation(spec.evaluation, spec.calibration, decoder, 'spec.evaluation');
    } else if (spec.healing && spec.healing.method !== pruningV1.HealingMethod.HEALING_METHOD_UNSPECIFIED) {
      throw new SiftError('invalid_argument', 'spec.healing needs spec.evaluation: healing is measured on its texts');
    }
    checkRidgeAlpha(spec.healing, 'spec.healing.ridge_alpha');
    if (spec.maxBlockSize >= decoder.layerCount) {
      throw new SiftError(
        'invalid_argument',
        `spec.max_block_size ${spec.maxBlockSize} must be below the layer count ${decoder.layerCount}`,
      );
    }
    residualStreamTensors(decoder, spec.calibration?.residualStreamPattern ?? '');
    const resolved = { ...spec, model: { name: decoder.stored.name, version: decoder.stored.version } };
    ctx.report.batchSize = 1;
    return {
      jobId: await enqueue(pruningV1.JobKind.JOB_KIND_ANALYSIS, { $case: 'analysis', value: resolved }, jobId, ctx),
    };
  };

  const submitPruning: UnaryHandler<pruningV1.SubmitPruningRequest, pruningV1.SubmitPruningResponse> = (req, ctx) =>
    submitOnce('pruning', req, (jobId) => createPruning(req, ctx, jobId));

  const createPruning = async (
    req: pruningV1.SubmitPruningRequest,
    ctx: CallContext,
    jobId: string,
  ): Promise<pruningV1.SubmitPruningResponse> => {
    const spec = req.spec;
    if (!spec) throw new SiftError('invalid_argument', 'spec is required');
    checkHealingEnums(spec.healing);
    if (spec.outputName && !/^[A-Za-z0-9][\w.-]*$/.test(spec.outputName)) {
      throw new SiftError(
        'invalid_argument',
        `spec.output_name "${echoed(spec.outputName)}" is not a valid model name (letters, digits, ".", "_", "-")`,
      );
    }
    const decoder = await decoderOf(spec.model);
    await checkOutputName(models, spec.outputName, decoder.stored);
    await checkTextFiles(spec);
    await checkPruningSpec(spec, decoder);
    if (spec.startLayer !== undefined) checkCutPossible(decoder, spec.startLayer, spec.blockSize);
    if (spec.calibration?.residualStreamPattern) residualStreamTensors(decoder, spec.calibration.residualStreamPattern);
    if (spec.analysisJobId && spec.startLayer === undefined) {
      const analysis = await store.get(checkJobId(spec.analysisJobId, 'pruning', 'spec.analysis_job_id'));
      if (
        analysis.status?.state !== commonV1.JobState.JOB_STATE_SUCCEEDED ||
        analysis.result?.$case !== 'analysisResult'
      ) {
        throw new SiftError('failed_precondition', `analysis job ${spec.analysisJobId} has not succeeded`);
      }
      const analysed = analysis.result.value.model;
      if (analysed?.name !== decoder.stored.name || analysed.version !== decoder.stored.version) {
        throw new SiftError(
          'failed_precondition',
          `analysis job ${spec.analysisJobId} analysed ${analysed?.name}/${analysed?.version}, not ${decoder.stored.name}/${decoder.stored.version}`,
        );
      }
      if ((analysis.result.value.distances?.dims[1] ?? 0) < spec.blockSize) {
        throw new SiftError(
          'failed_precondition',
          `analysis job ${spec.analysisJobId} measured blocks up to ${analysis.result.value.distances?.dims[1]} layers, not ${spec.blockSize}`,
        );
      }
    }
    const resolved = { ...spec, model: { name: decoder.stored.name, version: decoder.stored.version } };
    ctx.report.batchSize = 1;
    return {
      jobId: await enqueue(pruningV1.JobKind.JOB_KIND_PRUNING, { $case: 'pruning', value: resolved }, jobId, ctx),
    };
  };

  const jobHandlers = jobServiceHandlers({
    store,
    bus,
    events: pruningJobEvents,
    listFilter: (req: pruningV1.ListJobsRequest) => {
      // An unknown value matches no job: answering an empty page would hide the typo behind "no jobs".
      requireKnownEnum(req.kind, pruningV1.JobKind, 'kind');
      return (status) => !req.kind || status.kind === req.kind;
    },
  });

  return { submitAnalysis, submitPruning, ...jobHandlers };
}

function checkHealingEnums(healing: pruningV1.HealingSpec | undefined): void {
  if (!healing) return;
  requireKnownEnum(healing.method, pruningV1.HealingMethod, 'spec.healing.method');
  requireKnownEnum(healing.placement, pruningV1.HealingPlacement, 'spec.healing.placement');
}
