import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { type Bus, subjects } from '@sift/bus';
import { commonV1, selectionV1 } from '@sift/contracts';
import type { DataRoots } from '@sift/datasets';
import { checkJobId, enqueueJob, jobServiceHandlers, submitOncePerRequest } from '@sift/jobs';
import {
  type CallContext,
  echoed,
  requireKnownEnum,
  SiftError,
  type StreamHandler,
  type UnaryHandler,
} from '@sift/kit';
import { type JobStore, selectionJobEvents } from '../jobs/job-store.js';
import { planResume, takeOverStages } from '../jobs/resume.js';
import { invalidRecordPolicy } from '../pipeline/invalid-records.js';
import {
  checkJobPaths,
  checkOutputLocation,
  claimOutput,
  indexSavesOf,
  releaseOutput,
  type ServiceFolder,
} from '../pipeline/output-location.js';
import { datasetFiles } from '../pipeline/outputs.js';
import { checkRequestLimits } from '../pipeline/request-limits.js';
import { toProtoStep } from '../pipeline/resolved-steps.js';
import { checkStepInputs, naming } from '../pipeline/step-inputs.js';
import { resolveSteps } from '../pipeline/steps.js';
import type { LanguageModelScorer, TextEmbedder } from '../ports.js';

/** Thin gRPC adapter: decode, validate, call the job store and queue, encode. */
export function selectionHandlers(
  store: JobStore,
  bus: Bus,
  dataRoots: DataRoots,
  languageModels: LanguageModelScorer,
  embedder: TextEmbedder,
  /** The service's data folder and model store: no job writes into them. */
  ownFolders: readonly ServiceFolder[],
): Record<string, UnaryHandler | StreamHandler> {
  const submitJob: UnaryHandler<selectionV1.SubmitJobRequest, selectionV1.SubmitJobResponse> = async (req, ctx) => {
    // First, before any value is used, looked up or repeated in a message.
    checkRequestLimits(req);
    return submitOncePerRequest(store, req.requestId, {
      sameRequest: (job) => requestBytes({ ...job, resumeJobId: job.resumedFromJobId }).equals(requestBytes(req)),
      answer: (holder, job) => ({ jobId: holder, resolvedSteps: resolveSteps(job.steps).map(toProtoStep) }),
      create: async (jobId) => {
        const answer = await createJob(req, jobId, ctx);
        ctx.report.batchSize = 1;
        return answer;
      },
    });
  };

  const createJob = async (
    req: selectionV1.SubmitJobRequest,
    jobId: string,
    ctx: CallContext,
  ): Promise<selectionV1.SubmitJobResponse> => {
    const dataset = req.dataset;
    if (!dataset || dataset.paths.length === 0)
      throw new SiftError('invalid_argument', 'dataset.paths: at least one path is required');
    if (!dataset.textField) throw new SiftError('invalid_argument', 'dataset.text_field is required');
    if (!req.output?.path) throw new SiftError('invalid_argument', 'output.path is required');
    requireKnownEnum(dataset.format, selectionV1.DatasetFormat, 'dataset.format');
    invalidRecordPolicy(dataset);
    requireKnownEnum(req.output.format, selectionV1.DatasetFormat, 'output.format');
    const steps = resolveSteps(req.steps);
    // Every file the job will read or write, before anything touches them (the worker checks the roots
    // again when it starts the job).
    await checkJobPaths(dataRoots, dataset, req.output, steps);
    await checkOutputLocation({
      datasetPaths: dataset.paths,
      datasetFiles: await datasetFiles(dataset),
      output: req.output,
      indexSaves: indexSavesOf(steps),
      resumedFrom: req.resumeJobId,
      serviceFolders: ownFolders,
    });
    await checkStepInputs(steps, { languageModels, embedder });
    const resume = req.resumeJobId
      ? await planResume(store, req.resumeJobId, dataset, steps).catch(naming('resume_job_id'))
      : undefined;
    await claimOutput(req.output, jobId, req.resumeJobId);
    const now = Date.now();
    const status: selectionV1.JobStatus = {
      jobId,
      state: commonV1.JobState.JOB_STATE_QUEUED,
      progress: { stage: 'queued', done: 0, total: 0, etaSeconds: -1, unit: '' },
      stageIndex: 0,
      stageCount: req.steps.length + 2,
      error: '',
      updatedAtMs: now,
    };
    const record: selectionV1.Job = {
      status,
      dataset,
      steps: req.steps,
      output: req.output,
      report: undefined,
      resumedFromJobId: req.resumeJobId,
      createdAtMs: now,
      startedAtMs: 0,
      finishedAtMs: 0,
    };
    await enqueueJob(
      store,
      record,
      async () => {
        // The earlier job's finished stages become this one's before any worker can take it.
        if (resume) await takeOverStages(store, resume, jobId);
        await bus.publish(subjects.selectionJobSubmitted, { status });
      },
      // A client gone by now (its deadline passed while a large request was checked) gets no job.
      ctx,
    ).catch(async (err: unknown) => {
      // Not queued (NATS down, or the client gone): the folder must not stay reserved against the retry.
      await releaseOutput(req.output as selectionV1.OutputSpec, jobId);
      throw err;
    });
    return { jobId, resolvedSteps: steps.map(toProtoStep) };
  };

  /** A finished job's decisions from its decisions file, filtered and batched. */
  const streamDecisions: StreamHandler = async (call, ctx) => {
    const req = (call as ServerWritableStream<selectionV1.StreamDecisionsRequest, unknown>).request;
    const job = await store.get(checkJobId(req.jobId, 'selection'));
    if (job.status?.state !== commonV1.JobState.JOB_STATE_SUCCEEDED || !job.report?.decisionsPath) {
      throw new SiftError(
        'failed_precondition',
        `job ${req.jobId} has not succeeded; decisions exist only for finished jobs`,
      );
    }
    const batchSize = Math.min(req.batchSize || 1000, 10_000);
    // A stage the job does not have would filter out every decision: an empty stream that looks like an answer.
    const known = [
      ...new Set([...job.report.stages.map((s) => s.stage), ...job.report.resolvedSteps.map((s) => s.name)]),
    ];
    for (const [i, stage] of req.stages.entries()) {
      if (!known.includes(stage)) {
        throw new SiftError(
          'invalid_argument',
          `stages[${i}]: "${echoed(stage)}" is not a stage of job ${req.jobId}; its stages are ${known.join(', ')}`,
        );
      }
    }
    const stages = new Set(req.stages);
    let batch: selectionV1.RecordDecision[] = [];
    const lines = createInterface({ input: createReadStream(job.report.decisionsPath) });
    for await (const line of lines) {
      if (ctx.signal.aborted) break;
      if (!line) continue;
      const d = selectionV1.RecordDecision.fromJSON(JSON.parse(line));
      if (req.droppedOnly && d.kept) continue;
      if (stages.size > 0 && !stages.has(d.stage)) continue;
      batch.push(d);
      if (batch.length === batchSize) {
        call.write({ decisions: batch });
        batch = [];
      }
    }
    if (batch.length > 0) call.write({ decisions: batch });
  };

  return { submitJob, streamDecisions, ...jobServiceHandlers({ store, bus, events: selectionJobEvents }) };
}

/** A submit's request as bytes, without its request id: a retry must repeat them exactly. */
function requestBytes(req: Pick<selectionV1.SubmitJobRequest, 'dataset' | 'steps' | 'output' | 'resumeJobId'>): Buffer {
  return Buffer.from(selectionV1.SubmitJobRequest.encode({ ...req, requestId: '' }).finish());
}
