import type { ServerWritableStream } from '@grpc/grpc-js';
import { type Bus, subjects } from '@sift/bus';
import { commonV1, pruningV1 } from '@sift/contracts';
import type { DataRoots } from '@sift/datasets';
import type { ModelStore } from '@sift/inference';
import { enqueueJob, oncePerRequest, streamJobStatus } from '@sift/jobs';
import {
  type CallContext,
  echoed,
  requireKnownEnum,
  SiftError,
  type StreamHandler,
  type UnaryHandler,
} from '@sift/kit';
import { isTerminal, JobStore } from '../jobs/job-store.js';
import { checkCalibration } from '../pipeline/analysis.js';
import { type DecoderModel, loadDecoder, residualStreamTensors, resolveDecoder } from '../pipeline/decoder-model.js';
import { checkEvaluation } from '../pipeline/evaluation.js';
import { checkCutPossible, checkOutputName, checkPruningSpec, checkRidgeAlpha } from '../pipeline/pruning.js';
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
   * The job a retried submit names, after checking that the retry repeats the request: the same key on a
   * different request is a client bug to surface, not a reason to answer with an unrelated job. The stored
   * spec names the model version it resolved to; a request that named none matches any.
   */
  const sameRequest = async (jobId: string, requestId: string, spec: pruningV1.Job['spec']): Promise<string> => {
    const stored = (await store.get(jobId)).spec;
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
    if (!normalized(stored, version).equals(normalized(spec, version))) {
      throw new SiftError(
        'failed_precondition',
        `request_id "${requestId}" was used for job ${jobId} with a different request; a retry must repeat the request exactly, a new request needs a new request_id`,
      );
    }
    return jobId;
  };

  const enqueue = async (kind: pruningV1.JobKind, spec: pruningV1.Job['spec'], jobId: string, ctx: CallContext) => {
    const now = Date.now();
    const status: pruningV1.JobStatus = {
      jobId,
      kind,
      state: commonV1.JobState.JOB_STATE_QUEUED,
      progress: { stage: 'queued', done: 0, total: 0, etaSeconds: -1 },
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

  /** One job per request id: a retry of the same request gets the job its id names (see `sameRequest`). */
  const submitOnce = (
    kind: 'analysis' | 'pruning',
    req: { requestId: string; spec?: unknown },
    create: (jobId: string) => Promise<{ jobId: string }>,
  ) => {
    const jobId = JobStore.newId();
    return oncePerRequest(
      store,
      req.requestId,
      jobId,
      async (holder) => ({
        jobId: await sameRequest(holder, req.requestId, { $case: kind, value: req.spec } as never),
      }),
      () => create(jobId),
    );
  };

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
      await checkEvaluation(spec.evaluation, spec.calibration, decoder.contextLength, 'spec.evaluation');
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
    await checkOutputName(models, spec.outputName, decoder.stored.name);
    await checkTextFiles(spec);
    await checkPruningSpec(spec, decoder.layerCount, decoder.contextLength);
    if (spec.startLayer !== undefined) checkCutPossible(decoder, spec.startLayer, spec.blockSize);
    if (spec.calibration?.residualStreamPattern) residualStreamTensors(decoder, spec.calibration.residualStreamPattern);
    if (spec.analysisJobId && spec.startLayer === undefined) {
      const analysis = await store.get(spec.analysisJobId);
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

  const getJob: UnaryHandler<pruningV1.GetJobRequest, pruningV1.GetJobResponse> = async (req) => ({
    job: await store.get(req.jobId),
  });

  const listJobs: UnaryHandler<pruningV1.ListJobsRequest, pruningV1.ListJobsResponse> = async (req) => {
    // An unknown value matches no job: answering an empty page would hide the typo behind "no jobs".
    requireKnownEnum(req.kind, pruningV1.JobKind, 'kind');
    for (const [i, state] of req.states.entries()) requireKnownEnum(state, commonV1.JobState, `states[${i}]`);
    const page = await store.page(req.pageToken, Math.min(req.pageSize || 50, 500), ({ status: s }) => {
      if (!s) return false;
      return (req.states.length === 0 || req.states.includes(s.state)) && (!req.kind || s.kind === req.kind);
    });
    return { jobs: page.jobs.flatMap((j) => (j.status ? [j.status] : [])), nextPageToken: page.nextPageToken };
  };

  const cancelJob: UnaryHandler<pruningV1.CancelJobRequest, pruningV1.CancelJobResponse> = async (req) => {
    const job = await store.get(req.jobId);
    const state = job.status?.state ?? 0;
    if (state === commonV1.JobState.JOB_STATE_CANCELLED) return { status: job.status };
    if (isTerminal(state)) {
      throw new SiftError(
        'failed_precondition',
        `job ${req.jobId} already finished (${commonV1.jobStateToJSON(state)})`,
      );
    }
    await store.requestCancel(req.jobId);
    if (state === commonV1.JobState.JOB_STATE_QUEUED) {
      const updated = await store.update(req.jobId, (j) => {
        if (j.status) j.status.state = commonV1.JobState.JOB_STATE_CANCELLED;
        j.finishedAtMs = Date.now();
      });
      await bus.publish(subjects.pruningJobProgressed, { status: updated.status }, req.jobId);
      await bus.publish(subjects.pruningJobFinished, { status: updated.status, analysisResult: undefined }, req.jobId);
      return { status: updated.status };
    }
    return { status: job.status };
  };

  /** Current status first, then every change until the job is final. */
  const watchJob: StreamHandler = async (call, ctx) => {
    const req = (call as ServerWritableStream<pruningV1.WatchJobRequest, pruningV1.WatchJobResponse>).request;
    await streamJobStatus({
      current: async () => (await store.get(req.jobId)).status,
      subscribe: (onStatus) => bus.subscribe(subjects.pruningJobProgressed, req.jobId, (e) => onStatus(e.status)),
      write: (status) => call.write({ status }),
      signal: ctx.signal,
    });
  };

  return { submitAnalysis, submitPruning, watchJob, getJob, listJobs, cancelJob };
}

function checkHealingEnums(healing: pruningV1.HealingSpec | undefined): void {
  if (!healing) return;
  requireKnownEnum(healing.method, pruningV1.HealingMethod, 'spec.healing.method');
  requireKnownEnum(healing.placement, pruningV1.HealingPlacement, 'spec.healing.placement');
}
