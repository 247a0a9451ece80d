import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { Bus } from '@sift/bus';
import { commonV1, pruningV1 } from '@sift/contracts';
import { type LocalPlatform, repoRoot, startPlatform, waitUntil } from '@sift/launcher';
import { openMetricsStore } from '@sift/metrics';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownSentences } from '../../models/builders/markdown-prose.js';
import { decodeOnnxModel, encodeOnnxModel } from '../../services/pruning/src/adapters/onnx-graph.js';
import { expectCancelsEnd } from './src/job-streams.js';

/** Prose of the README files of installed packages, in windows of about `bytes` bytes. */
function readmeTexts(count: number, bytes: number, skip = 0): string[] {
  const sentences: string[] = [];
  const root = join(repoRoot, 'node_modules');
  for (const pkg of readdirSync(root).sort()) {
    const path = join(root, pkg, 'README.md');
    if (!pkg.startsWith('.') && existsSync(path)) sentences.push(...markdownSentences(readFileSync(path, 'utf8')));
    if (sentences.join(' ').length > (count + skip + 1) * bytes) break;
  }
  const all = sentences.join(' ');
  return Array.from({ length: count }, (_, i) => all.slice((skip + i) * bytes, (skip + i + 1) * bytes));
}

type Client = InstanceType<typeof pruningV1.PruningServiceClient>;
const call = <Req, Res>(client: Client, method: string, req: Req): Promise<Res> =>
  new Promise((resolve, reject) =>
    (client as unknown as Record<string, (r: Req, cb: (e: ServiceError | null, r: Res) => void) => void>)[method]?.call(
      client,
      req,
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );

/** The error a call is refused with, or undefined when it succeeds. */
const refusalOf = (client: Client, method: string, req: unknown): Promise<ServiceError | undefined> =>
  call(client, method, req).then(
    () => undefined,
    (e: ServiceError) => e,
  );

/** Streams WatchJob to the end and returns every status. */
function watch(client: Client, jobId: string): Promise<pruningV1.JobStatus[]> {
  return new Promise((resolve, reject) => {
    const seen: pruningV1.JobStatus[] = [];
    const stream = client.watchJob({ jobId });
    stream.on('data', (m: pruningV1.WatchJobResponse) => m.status && seen.push(m.status));
    stream.on('end', () => resolve(seen));
    stream.on('error', reject);
  });
}

/**
 * A model engineer prunes the byte-level decoder through the real platform: analysis of the layers on
 * calibration text, then removal of the least useful layer with least-squares healing, stored as a new
 * version in a COPY of the model store (the repository's models/ is never written).
 */
describe('pruning end to end', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let modelsDir: string;
  let client: Client;
  let stopped = false;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sift-prune-'));
    modelsDir = join(dataDir, 'models');
    cpSync(join(repoRoot, 'models/byte-gpt'), join(modelsDir, 'byte-gpt'), { recursive: true });
    // A model of another kind, which the service must refuse by saying what it is.
    cpSync(join(repoRoot, 'models/digits-cls'), join(modelsDir, 'digits-cls'), { recursive: true });
    // The same network exported without its hidden-state outputs, as most exporters leave a decoder:
    // the service has to find the layer boundaries by graph analysis.
    const plainDir = join(modelsDir, 'byte-gpt-plain', '1');
    mkdirSync(plainDir, { recursive: true });
    const graph = decodeOnnxModel(readFileSync(join(repoRoot, 'models/byte-gpt/1/model.onnx')));
    const g = graph.graph as { output: { name?: string | null }[] };
    g.output = g.output.filter((o) => o.name === 'logits');
    writeFileSync(join(plainDir, 'model.onnx'), encodeOnnxModel(graph));
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'models/byte-gpt/1/model.json'), 'utf8'));
    writeFileSync(
      join(plainDir, 'model.json'),
      JSON.stringify({ ...manifest, name: 'byte-gpt-plain', outputs: manifest.outputs.slice(0, 1), sha256: {} }),
    );
    // byte-gpt with one node of layer 5 named as if in layer 3: a cut of layers 3..4 would still need it.
    const tangledDir = join(modelsDir, 'byte-gpt-tangled', '1');
    mkdirSync(tangledDir, { recursive: true });
    const tangled = decodeOnnxModel(readFileSync(join(repoRoot, 'models/byte-gpt/1/model.onnx')));
    const node = tangled.graph?.node?.find((n) => n.name === '/model/blocks.5/ln1/LayerNormalization');
    if (node) node.name = '/model/blocks.3/ln1/LayerNormalization_5';
    writeFileSync(join(tangledDir, 'model.onnx'), encodeOnnxModel(tangled));
    writeFileSync(
      join(tangledDir, 'model.json'),
      JSON.stringify({ ...manifest, name: 'byte-gpt-tangled', sha256: {} }),
    );
    platform = await startPlatform(
      dataDir,
      {},
      {
        pruning: true,
        pruningEnv: {
          SIFT_MODELS_DIR: modelsDir,
          SIFT_PRUNING_THREADS: '2',
          SIFT_DATA_ROOTS: dataDir,
          // A killed worker's job is redelivered after 3 s (live workers keep theirs with heartbeats).
          SIFT_PRUNING_ACK_WAIT_MS: '3000',
        },
      },
    );
    client = new pruningV1.PruningServiceClient(platform.pruningAddress ?? '', credentials.createInsecure());
  }, 60_000);
  afterAll(async () => {
    client?.close();
    if (!stopped) await platform?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const calibration = readmeTexts(16, 256);
  const evaluation = readmeTexts(8, 256, 16);
  /** Submits an analysis over gRPC; its job id. */
  const submitAnalysis = async (spec: pruningV1.DeepPartial<pruningV1.AnalysisSpec>) =>
    (
      await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
        client,
        'submitAnalysis',
        pruningV1.SubmitAnalysisRequest.fromPartial({ spec }),
      )
    ).jobId;
  /** An analysis of byte-gpt calibrated on the plain-text file at `path`; its job id. */
  const analyseFile = (path: string) =>
    submitAnalysis({
      model: { name: 'byte-gpt', version: '' },
      calibration: { texts: { source: { $case: 'dataset', value: { path, textField: '', limit: 0 } } } },
    });

  it('rejects bad requests before any work starts', async () => {
    const submit = (spec: Record<string, unknown>) =>
      refusalOf(client, 'submitPruning', pruningV1.SubmitPruningRequest.fromPartial({ spec } as never)).then(
        (e) => e?.code ?? Number.NaN,
      );
    const evaluationSpec = { texts: { source: { $case: 'inline' as const, value: { texts: evaluation } } } };
    expect(await submit({ model: { name: 'no-such-model', version: '' }, blockSize: 1, startLayer: 0 })).toBe(
      status.NOT_FOUND,
    );
    expect(
      await submit({
        model: { name: 'byte-gpt', version: '' },
        blockSize: 8,
        startLayer: 0,
        evaluation: evaluationSpec,
      }),
    ).toBe(status.INVALID_ARGUMENT);
    const analysis = await refusalOf(
      client,
      'submitAnalysis',
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '' },
          calibration: { texts: { source: { $case: 'inline', value: { texts: ['fine', ''] } } } },
        },
      }),
    ).then((e) => e?.code ?? Number.NaN);
    expect(analysis).toBe(status.INVALID_ARGUMENT);
    const missingFile = {
      source: { $case: 'dataset' as const, value: { path: join(dataDir, 'nope.jsonl'), textField: 'text' } },
    };
    expect(
      await submit({ model: { name: 'byte-gpt', version: '' }, blockSize: 1, calibration: { texts: missingFile } }),
    ).toBe(status.NOT_FOUND);
    const refusal = (spec: Record<string, unknown>) =>
      refusalOf(client, 'submitPruning', pruningV1.SubmitPruningRequest.fromPartial({ spec } as never));
    // Messages a user can act on: the field by its request path, an article that fits, no 100k-character echo.
    const unnamed = await refusal({ model: { name: '', version: '' }, blockSize: 1, startLayer: 0 });
    expect(unnamed?.code).toBe(status.INVALID_ARGUMENT);
    expect(unnamed?.details).toBe('spec.model.name is required');
    const classifier = await refusal({ model: { name: 'digits-cls', version: '' }, blockSize: 1, startLayer: 0 });
    expect(classifier?.code).toBe(status.FAILED_PRECONDITION);
    expect(classifier?.details).toContain('model digits-cls/1 is an "image-classifier" model;');
    const longName = await refusal({ model: { name: 'm'.repeat(100_000), version: '' }, blockSize: 1, startLayer: 0 });
    expect(longName?.code).toBe(status.NOT_FOUND);
    expect(longName?.details).toMatch(/^unknown model "m{200}…"; the store has: /);
    // A relative path resolved against the service's working directory (README.md read the repo's README).
    const relative = await refusal({
      model: { name: 'byte-gpt', version: '' },
      blockSize: 1,
      calibration: { texts: { source: { $case: 'dataset', value: { path: 'README.md', textField: '' } } } },
    });
    expect(relative?.code).toBe(status.INVALID_ARGUMENT);
    expect(relative?.details).toBe(
      `spec.calibration.texts.dataset.path must be an absolute path on the service's machine, got "README.md"`,
    );
    // A FIFO would block the worker in its open, out of reach of cancel.
    const fifo = join(dataDir, 'texts.jsonl');
    execFileSync('mkfifo', [fifo]);
    const piped = await refusal({
      model: { name: 'byte-gpt', version: '' },
      blockSize: 1,
      calibration: { texts: { source: { $case: 'dataset', value: { path: fifo, textField: 'text' } } } },
    });
    rmSync(fifo);
    expect(piped?.code).toBe(status.INVALID_ARGUMENT);
    expect(piped?.details).toContain(`spec.calibration.texts.dataset.path: ${fifo} is not a regular file`);
    const outside = { source: { $case: 'dataset' as const, value: { path: '/etc/hostname', textField: '' } } };
    expect(
      await submit({ model: { name: 'byte-gpt', version: '' }, blockSize: 1, calibration: { texts: outside } }),
    ).toBe(status.PERMISSION_DENIED);
    // A pruned version under the source's own name would replace the source for unversioned requests.
    const base = { model: { name: 'byte-gpt', version: '' }, blockSize: 1, startLayer: 2, evaluation: evaluationSpec };
    expect(await submit({ ...base, outputName: 'byte-gpt' })).toBe(status.INVALID_ARGUMENT);
    // A block the graph cannot let go of is refused at submit, not minutes into the job.
    const tangledCut = await refusalOf(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: { ...base, model: { name: 'byte-gpt-tangled', version: '' }, startLayer: 3, blockSize: 2 },
      } as never),
    );
    expect(tangledCut?.code).toBe(status.FAILED_PRECONDITION);
    expect(tangledCut?.details).toContain('spec.start_layer: cannot cut layers 3..4');
    // So would one under the name of another model that is not a pruning of this source.
    expect(await submit({ ...base, outputName: 'byte-gpt-plain' })).toBe(status.FAILED_PRECONDITION);
    expect(await submit({ ...base, healing: { method: 1, ridgeAlpha: Number.NaN } })).toBe(status.INVALID_ARGUMENT);
    expect(await submit({ ...base, calibration: { residualStreamPattern: '((' } })).toBe(status.INVALID_ARGUMENT);
    // A latency loop of 2^32 runs held the worker (and every job queued after it) for ever, out of reach of cancel.
    const endless = await refusalOf(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: { ...base, evaluation: { ...evaluationSpec, latencyRuns: 4294967295 } },
      } as never),
    );
    expect(endless?.code).toBe(status.INVALID_ARGUMENT);
    expect(endless?.details).toContain('spec.evaluation.latency_runs 4294967295 exceeds 1000');
    const bogusPage = await refusalOf(
      client,
      'listJobs',
      pruningV1.ListJobsRequest.fromPartial({ pageToken: 'job-not-a-token', pageSize: 1 }),
    ).then((e) => e?.code ?? Number.NaN);
    expect(bogusPage).toBe(status.INVALID_ARGUMENT);
    // An unknown filter value matched no job and answered an empty page, as if there were none.
    const listRefusal = (request: Partial<pruningV1.ListJobsRequest>) =>
      refusalOf(client, 'listJobs', pruningV1.ListJobsRequest.fromPartial(request));
    const badKind = await listRefusal({ kind: 77 as pruningV1.JobKind });
    expect(badKind?.code).toBe(status.INVALID_ARGUMENT);
    expect(badKind?.details).toBe(
      'kind has the unknown value 77; expected one of JOB_KIND_UNSPECIFIED, JOB_KIND_ANALYSIS, JOB_KIND_PRUNING',
    );
    for (const state of [99, -1]) {
      const badState = await listRefusal({ states: [commonV1.JobState.JOB_STATE_SUCCEEDED, state] });
      expect(badState?.code).toBe(status.INVALID_ARGUMENT);
      expect(badState?.details).toMatch(
        new RegExp(
          `^states\\[1\\] has the unknown value ${state}; expected one of JOB_STATE_UNSPECIFIED, JOB_STATE_QUEUED, `,
        ),
      );
    }
    // A job id longer than any job id is refused by its length, without repeating it, over gRPC and the gateway.
    const longId = `job-${'9'.repeat(96)}`;
    for (const method of ['getJob', 'cancelJob']) {
      const refused = await refusalOf(client, method, { jobId: longId });
      expect(refused?.code).toBe(status.INVALID_ARGUMENT);
      expect(refused?.details).toBe('job_id has 100 characters; a pruning job id has at most 64');
    }
    const overHttp = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs/${longId}`);
    expect(overHttp.status).toBe(400);
    expect(JSON.stringify(await overHttp.json())).not.toContain(longId);
  });

  it('fails a job whose plain-text file is one 2 GiB line, naming file and line, and the worker lives on', async () => {
    const worker = platform.children.find((c) => c.name === 'pruning' && c.process.exitCode === null);
    const bigFile = join(dataDir, 'one-line.txt');
    writeFileSync(bigFile, '');
    truncateSync(bigFile, 2 * 1024 * 1024 * 1024); // sparse: NUL bytes, no line break
    const jobId = await analyseFile(bigFile);
    const statuses = await watch(client, jobId);
    rmSync(bigFile);
    expect(statuses.at(-1)?.state).toBe(commonV1.JobState.JOB_STATE_FAILED);
    expect(statuses.at(-1)?.error).toContain(`text longer than 67108864 bytes at ${bigFile}:1`);
    // The same process failed the job and still runs (it used to die of an uncaught RangeError, again on
    // every redelivery); the later tests use it.
    expect(worker?.process.exitCode).toBeNull();
    expect(platform.children.filter((c) => c.name === 'pruning')).toHaveLength(1);
  });

  it("keeps the first 2,000 characters of a failed job's error, which here repeats a 2,300-character path", async () => {
    // Twelve nested folders of 190 characters: the path of a calibration file that holds no text.
    const folder = join(dataDir, ...Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(190, 'd')));
    mkdirSync(folder, { recursive: true });
    const blank = join(folder, 'blank.txt');
    writeFileSync(blank, '\n \n\n');
    const jobId = await analyseFile(blank);
    const final = (await watch(client, jobId)).at(-1);
    expect(final?.state).toBe(commonV1.JobState.JOB_STATE_FAILED);
    const { job } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', { jobId });
    const error = job?.status?.error ?? '';
    expect(error).toBe(final?.error);
    // What is kept is the start of the whole message, and an ellipsis.
    const at = error.indexOf(dataDir);
    expect(at).toBeGreaterThan(0);
    expect(error).toBe(`${`${error.slice(0, at)}${blank} holds no non-empty text`.slice(0, 2000)}…`);
  });

  it('finds the residual stream by graph analysis when the model does not output it, and prunes that model', async () => {
    // Texts from files, as a user's corpus arrives: calibration from JSONL records, evaluation from plain text.
    const calibrationFile = join(dataDir, 'calibration.jsonl');
    writeFileSync(calibrationFile, calibration.map((t, i) => JSON.stringify({ id: i, text: t })).join('\n'));
    const evaluationFile = join(dataDir, 'held-out.txt');
    writeFileSync(evaluationFile, evaluation.join('\n\n'));
    const texts = {
      source: { $case: 'dataset' as const, value: { path: calibrationFile, textField: 'text', limit: 0 } },
    };
    const { jobId: analysisId } = await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
      client,
      'submitAnalysis',
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt-plain', version: '' },
          calibration: { texts, sequenceLength: 256 },
          maxBlockSize: 3,
          // The loss table: every l*(n) removed and measured, unhealed and healed.
          evaluation: {
            texts: { source: { $case: 'dataset', value: { path: evaluationFile, textField: '', limit: 0 } } },
            latencyRuns: 1,
          },
          healing: { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES },
        },
      }),
    );
    const statuses = await watch(client, analysisId);
    expect(statuses.at(-1)?.state, statuses.at(-1)?.error).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
    const { job } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', {
      jobId: analysisId,
    });
    const analysis = job?.result?.$case === 'analysisResult' ? job.result.value : undefined;
    expect(analysis?.residualStreamSource).toBe('graph analysis of layer boundaries');
    expect(analysis?.layerCount).toBe(8);
    const source = analysis?.sourceMetrics?.bitsPerByte ?? Number.NaN;
    const table = analysis?.blockEvaluations ?? [];
    expect(table.map((e) => [e.block?.blockSize, e.unhealed?.layerCount, e.healed?.layerCount])).toEqual([
      [1, 7, 7],
      [2, 6, 6],
      [3, 5, 5],
    ]);
    for (const e of table) {
      expect(e.unhealed?.bitsPerByte).toBeGreaterThan(source);
      expect(e.healed?.bitsPerByte).toBeLessThan(e.unhealed?.bitsPerByte ?? 0);
      expect(e.healing?.placement).toBe(pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD);
    }
    // Removing more layers costs more.
    expect(table[2]?.unhealed?.bitsPerByte).toBeGreaterThan(table[0]?.unhealed?.bitsPerByte ?? 0);
    expect(readFileSync(analysis?.markdownReportPath ?? '', 'utf8')).toContain('## Loss against layers removed');
    const { jobId } = await call<pruningV1.SubmitPruningRequest, pruningV1.SubmitPruningResponse>(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt-plain', version: '' },
          blockSize: 1,
          analysisJobId: analysisId,
          evaluation: {
            texts: { source: { $case: 'dataset', value: { path: evaluationFile, textField: '', limit: 0 } } },
            latencyRuns: 1,
          },
        },
      }),
    );
    const pruned = await watch(client, jobId);
    expect(pruned.at(-1)?.state, pruned.at(-1)?.error).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
    const session = await ort.InferenceSession.create(join(modelsDir, 'byte-gpt-plain-pruned', '1', 'model.onnx'));
    try {
      expect(session.outputNames).toEqual(['logits']);
      const ids = BigInt64Array.from(Buffer.from('Hello'), (b) => BigInt(b));
      const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [1, ids.length]) });
      expect(out.logits?.dims).toEqual([1, 5, 256]);
    } finally {
      await session.release();
    }
  });

  it('analyses the layers, prunes the least useful one with healing and stores a new version that runs', async () => {
    const texts = { source: { $case: 'inline' as const, value: { texts: calibration } } };
    const analysisRequest = (sequenceLength: number) =>
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: { model: { name: 'byte-gpt', version: '' }, calibration: { texts, sequenceLength } },
        requestId: 'analysis-of-byte-gpt',
      });
    const { jobId: analysisId } = await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
      client,
      'submitAnalysis',
      analysisRequest(256),
    );
    // A retried submit gets the same job; the same request_id on a different request is refused.
    const retried = await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
      client,
      'submitAnalysis',
      analysisRequest(256),
    );
    expect(retried.jobId).toBe(analysisId);
    const reused = await refusalOf(client, 'submitAnalysis', analysisRequest(128));
    expect(reused?.code).toBe(status.FAILED_PRECONDITION);
    expect(reused?.details).toContain(`request_id "analysis-of-byte-gpt" was used for job ${analysisId}`);
    const analysisStatuses = await watch(client, analysisId);
    expect(analysisStatuses.at(-1)?.state, analysisStatuses.at(-1)?.error).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
    const { job: analysisJob } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', {
      jobId: analysisId,
    });
    const analysis = analysisJob?.result?.$case === 'analysisResult' ? analysisJob.result.value : undefined;
    expect(analysis?.layerCount).toBe(8);
    // The report: a PNG heatmap served by the gateway, and Markdown naming l*(n).
    const png = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs/${analysisId}/heatmap.png`);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const image = Buffer.from(await png.arrayBuffer());
    expect(image.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(image.readUInt32BE(16)).toBe(7 * 24); // width: one 24-px column per block size n = 1..7
    expect(image.readUInt32BE(20)).toBe(8 * 24); // height: one row per start layer
    expect(readFileSync(analysis?.markdownReportPath ?? '', 'utf8')).toContain('best start l*(n)');
    // The gateway relays WatchJob as Server-Sent Events; for a finished job: its final status, then the end.
    const events = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs/${analysisId}/events`);
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    expect(await events.text()).toMatch(/event: status\ndata: \{.*"state":"JOB_STATE_SUCCEEDED"/);
    const notAnalysis = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs/job-zzzz-00000000/heatmap.png`);
    expect(notAnalysis.status).toBe(404);
    expect(analysis?.distances?.dims).toEqual([8, 7]);
    expect(analysis?.residualStreamSource).toBe('hidden-state outputs');
    const best1 = analysis?.bestBlocks.find((b) => b.blockSize === 1);
    expect(best1?.startLayer).toBeLessThan(7);

    const { jobId } = await call<pruningV1.SubmitPruningRequest, pruningV1.SubmitPruningResponse>(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '' },
          blockSize: 1,
          analysisJobId: analysisId,
          calibration: { texts, sequenceLength: 256 },
          healing: { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES },
          evaluation: {
            texts: { source: { $case: 'inline', value: { texts: evaluation } } },
            latencyRuns: 3,
          },
        },
      }),
    );
    const statuses = await watch(client, jobId);
    expect(statuses.at(-1)?.state, statuses.at(-1)?.error).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
    // A watcher that subscribes after the job has moved on sees fewer stages, never unknown ones.
    const stages = ['queued', 'load', 'capture', 'distances', 'rewrite', 'heal', 'evaluate', 'store'];
    for (const s of statuses) expect(stages).toContain(s.progress?.stage);
    const { job } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', { jobId });
    const result = job?.result?.$case === 'pruningResult' ? job.result.value : undefined;
    expect(result?.removedBlock?.startLayer).toBe(best1?.startLayer);
    // The named analysis measured angular distance on the last token, and that chose the block.
    expect(result?.blockMetric).toBe(pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN);
    expect(result?.prunedModel).toEqual({ name: 'byte-gpt-pruned', version: '1' });
    const before = result?.before?.bitsPerByte ?? Number.NaN;
    const unhealed = result?.afterUnhealed?.bitsPerByte ?? Number.NaN;
    const healed = result?.afterHealed?.bitsPerByte ?? Number.NaN;
    for (const v of [before, unhealed, healed]) expect(Number.isFinite(v)).toBe(true);
    expect(unhealed).toBeGreaterThanOrEqual(before);
    expect(healed).toBeGreaterThanOrEqual(before);
    // Healing earns its place in the stored model: the folded least-squares map wins back part of the loss
    // (2.936 -> 2.823 bits/byte on these texts; docs/pruning-validation.md: 28-68% of it for every block).
    expect(healed).toBeLessThan(unhealed);
    expect(result?.afterHealed?.layerCount).toBe(7);
    // ReplaceMe's placement: the map is folded into the MLP projection of the layer before the cut (no new
    // parameters), so healed and unhealed pruned models have the same size.
    expect(result?.healing).toMatchObject({
      placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
      foldedInto: `/model/blocks.${(best1?.startLayer ?? 0) - 1}/mlp/proj/MatMul`,
      addedParameters: 0,
    });
    expect(result?.afterHealed?.parameterCount).toBe(result?.afterUnhealed?.parameterCount);
    expect(readFileSync(result?.markdownReportPath ?? '', 'utf8')).toContain('folded into `/model/blocks.');
    const prunedPng = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs/${jobId}/heatmap.png`);
    expect(prunedPng.status).toBe(200);
    console.info(
      `removed layer ${result?.removedBlock?.startLayer} (distance ${result?.removedBlock?.distance?.toFixed(4)}); ` +
        `bits/byte ${before.toFixed(4)} -> ${unhealed.toFixed(4)} unhealed, ${healed.toFixed(4)} healed; ` +
        `p50 ${result?.before?.latencyMsP50.toFixed(2)} -> ${result?.afterHealed?.latencyMsP50.toFixed(2)} ms; ` +
        `${result?.before?.fileSizeBytes} -> ${result?.afterHealed?.fileSizeBytes} bytes`,
    );
    const listed = await call<pruningV1.ListJobsRequest, pruningV1.ListJobsResponse>(
      client,
      'listJobs',
      pruningV1.ListJobsRequest.fromPartial({ kind: pruningV1.JobKind.JOB_KIND_PRUNING }),
    );
    expect(listed.jobs.map((j) => j.jobId)).toContain(jobId);
    expect(listed.jobs.every((j) => j.kind === pruningV1.JobKind.JOB_KIND_PRUNING)).toBe(true);
    // The same through the gateway, filtered by query parameters; a bad one is a 400 naming the problem.
    const page = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs?kind=JOB_KIND_ANALYSIS&state=JOB_STATE_SUCCEEDED`);
    const pageJson = (await page.json()) as { jobs: { jobId: string; kind: string }[] };
    expect(pageJson.jobs.map((j) => j.jobId)).toContain(analysisId);
    expect(pageJson.jobs.every((j) => j.kind === 'JOB_KIND_ANALYSIS')).toBe(true);
    const bad = await fetch(`${platform.gatewayUrl}/v1/pruning/jobs?state=DONE`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('query parameters');
    expect(result?.afterUnhealed?.fileSizeBytes).toBeLessThan(result?.before?.fileSizeBytes ?? 0);

    // The new version is in the temporary store, with provenance; the source version is untouched.
    const dir = join(modelsDir, 'byte-gpt-pruned', '1');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(manifest.provenance.pruning.source).toMatchObject({ name: 'byte-gpt', version: '1' });
    expect(manifest.provenance.pruning.removedBlock).toMatchObject({ blockSize: 1, startLayer: best1?.startLayer });
    expect(manifest.languageModel.layers).toBe(7);
    expect(
      readFileSync(join(modelsDir, 'byte-gpt/1/model.onnx')).equals(
        readFileSync(join(repoRoot, 'models/byte-gpt/1/model.onnx')),
      ),
    ).toBe(true);
    expect(existsSync(join(repoRoot, 'models/byte-gpt-pruned'))).toBe(false);
    expect(existsSync(join(modelsDir, 'byte-gpt', '2'))).toBe(false);
    // Nor can a pruning of the pruned model take the original's name (plain byte-gpt requests would get it).
    const chained = await refusalOf(
      client,
      'submitPruning',
      pruningV1.SubmitPruningRequest.fromPartial({
        spec: { model: { name: 'byte-gpt-pruned', version: '' }, blockSize: 1, startLayer: 2, outputName: 'byte-gpt' },
      }),
    );
    expect(chained?.code).toBe(status.FAILED_PRECONDITION);
    expect(chained?.details).toContain('model byte-gpt holds version 1, which is not a pruning (an original model)');

    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    try {
      const ids = BigInt64Array.from(Buffer.from('The quick brown fox'), (b) => BigInt(b));
      const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [1, ids.length]) });
      expect(out.logits?.dims).toEqual([1, ids.length, 256]);
      expect((out.logits as ort.Tensor).data as Float32Array).toSatisfy((d: Float32Array) => d.every(Number.isFinite));
    } finally {
      await session.release();
    }
  }, 60_000);

  it('finishes an analysis with the same loss table after its worker is killed mid-evaluation', async () => {
    const inline = (texts: string[]) => ({ source: { $case: 'inline' as const, value: { texts } } });
    const submitEvaluatedAnalysis = () =>
      submitAnalysis({
        model: { name: 'byte-gpt', version: '1' },
        calibration: { texts: inline(calibration), sequenceLength: 256 },
        maxBlockSize: 3,
        healing: { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES },
        // Long enough (7 models measured, ~1 s each) for the kill to land mid-table.
        evaluation: { texts: inline(readmeTexts(48, 256, 24)), latencyRuns: 20 },
      });
    const resultOf = async (jobId: string) => {
      const { job } = await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', { jobId });
      return job;
    };
    const reference = await submitEvaluatedAnalysis();
    const referenceStatuses = await watch(client, reference);
    expect(referenceStatuses.at(-1)?.state).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);

    const jobId = await submitEvaluatedAnalysis();
    // Kill the worker as soon as the first row of the loss table is saved.
    const jobDir = join(dataDir, 'pruning', 'jobs', jobId);
    await waitUntil(
      async () => existsSync(jobDir) && readdirSync(jobDir).some((f) => f.startsWith('checkpoint-block-')),
      60_000,
      10,
    );
    expect((await resultOf(jobId))?.status?.state).toBe(commonV1.JobState.JOB_STATE_RUNNING);
    const worker = platform.children.find((c) => c.name === 'pruning' && c.process.exitCode === null);
    expect(worker).toBeDefined();
    worker?.process.kill('SIGKILL');
    await worker?.stop();
    const restarted = await platform.startPruningReplica(Number(platform.pruningAddress?.split(':')[1]));
    await waitUntil(
      async () => (await resultOf(jobId))?.status?.state === commonV1.JobState.JOB_STATE_SUCCEEDED,
      90_000,
    );

    // The new worker read the saved stages instead of recomputing them, and measured only the rest.
    const logs = restarted.logs.join('\n');
    for (const name of ['analysis.json', 'source-metrics.json']) expect(logs).toContain(`"checkpoint":"${name}"`);
    expect(logs).toMatch(/"checkpoint":"block-\d+-1\.json"/);
    const table = (job: pruningV1.Job | undefined) =>
      job?.result?.$case === 'analysisResult'
        ? job.result.value.blockEvaluations.map((row) => ({
            block: [row.block?.startLayer, row.block?.blockSize],
            unhealed: row.unhealed?.bitsPerByte ?? Number.NaN,
            healed: row.healed?.bitsPerByte ?? Number.NaN,
          }))
        : [];
    const expected = table(await resultOf(reference));
    const got = table(await resultOf(jobId));
    expect(got.map((r) => r.block)).toEqual(expected.map((r) => r.block));
    expect(got).toHaveLength(3);
    got.forEach((row, i) => {
      expect(row.unhealed).toBeCloseTo(expected[i]?.unhealed ?? Number.NaN, 5);
      expect(row.healed).toBeCloseTo(expected[i]?.healed ?? Number.NaN, 5);
    });
  }, 240_000);

  it('cancels a queued pruning and a running analysis, ending their watchers CANCELLED; a finished job is 409', async () => {
    const inline = (texts: string[]) => ({ source: { $case: 'inline' as const, value: { texts } } });
    const gateway = (path: string, init?: RequestInit) => fetch(`${platform.gatewayUrl}/v1/pruning${path}`, init);
    const cancelOverHttp = async (id: string) => {
      const res = await gateway(`/jobs/${id}/cancel`, { method: 'POST' });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const cancelOverGrpc = (jobId: string) =>
      call<pruningV1.CancelJobRequest, pruningV1.CancelJobResponse>(client, 'cancelJob', { jobId });
    const jobOf = async (jobId: string) =>
      (await call<pruningV1.GetJobRequest, pruningV1.GetJobResponse>(client, 'getJob', { jobId })).job;
    // The worker runs one job at a time. This analysis (every l*(n) up to n = 3 removed, healed and measured
    // on 48 texts, 20 latency runs each) keeps it busy for a minute, so it is running when cancelled and the
    // pruning submitted after it is still queued.
    const { jobId: running } = await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
      client,
      'submitAnalysis',
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '1' },
          calibration: { texts: inline(calibration), sequenceLength: 256 },
          maxBlockSize: 3,
          healing: { method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES },
          evaluation: { texts: inline(readmeTexts(48, 256, 24)), latencyRuns: 20 },
        },
      }),
    );
    const submitted = await gateway('/prunings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        spec: {
          model: { name: 'byte-gpt' },
          blockSize: 1,
          startLayer: 2,
          outputName: 'byte-gpt-cancelled',
          evaluation: { texts: { inline: { texts: evaluation } } },
        },
      }),
    });
    expect(submitted.status).toBe(202);
    const queued = ((await submitted.json()) as { jobId: string }).jobId;
    await waitUntil(async () => (await jobOf(running))?.status?.state === commonV1.JobState.JOB_STATE_RUNNING, 60_000);
    expect((await jobOf(queued))?.status?.state).toBe(commonV1.JobState.JOB_STATE_QUEUED);

    // Watchers connected before the cancel: Server-Sent Events for the queued job, WatchJob for the running one.
    const events = await gateway(`/jobs/${queued}/events`);
    expect(events.status).toBe(200);
    // The queued job is cancelled at once over HTTP, the running one over gRPC at its next check.
    await expectCancelsEnd({
      events,
      watch: client.watchJob({ jobId: running }),
      queued,
      cancelQueued: () => cancelOverHttp(queued),
      cancelRunning: () => cancelOverGrpc(running),
    });
    expect((await jobOf(running))?.status?.state).toBe(commonV1.JobState.JOB_STATE_CANCELLED);

    // Cancelling a cancelled job again is a no-op success, over either protocol.
    expect((await cancelOverGrpc(queued)).status?.state).toBe(commonV1.JobState.JOB_STATE_CANCELLED);
    const again = await cancelOverHttp(running);
    expect(again.status).toBe(200);
    expect(again.body.status.state).toBe('JOB_STATE_CANCELLED');

    // A job that finished cannot be cancelled: FAILED_PRECONDITION over gRPC, 409 through the gateway.
    const { jobId: finished } = await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
      client,
      'submitAnalysis',
      pruningV1.SubmitAnalysisRequest.fromPartial({
        spec: {
          model: { name: 'byte-gpt', version: '1' },
          calibration: { texts: inline(calibration), sequenceLength: 256 },
        },
      }),
    );
    const finishedStatuses = await watch(client, finished);
    expect(finishedStatuses.at(-1)?.state, finishedStatuses.at(-1)?.error).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);
    const refused = await refusalOf(client, 'cancelJob', { jobId: finished });
    expect(refused?.code).toBe(status.FAILED_PRECONDITION);
    expect(refused?.details).toBe(`job ${finished} already finished (JOB_STATE_SUCCEEDED)`);
    const refusedOverHttp = await cancelOverHttp(finished);
    expect(refusedOverHttp.status).toBe(409);
    expect(refusedOverHttp.body.error).toMatchObject({
      type: 'failed_precondition',
      message: `job ${finished} already finished (JOB_STATE_SUCCEEDED)`,
    });
    expect((await jobOf(finished))?.status?.state).toBe(commonV1.JobState.JOB_STATE_SUCCEEDED);

    // The worker took the cancelled pruning's message before the later analysis's and let it go: it never
    // started, and no model was stored under its output name.
    const never = await jobOf(queued);
    expect(never?.status?.state).toBe(commonV1.JobState.JOB_STATE_CANCELLED);
    expect(never?.startedAtMs).toBe(0);
    expect(existsSync(join(modelsDir, 'byte-gpt-cancelled'))).toBe(false);
  }, 180_000);

  it('lands the pruning run in ClickHouse pruning_runs', async () => {
    const bus = await Bus.connect(platform.natsUrl, 'e2e-observer');
    await waitUntil(async () => {
      const lag = await bus.consumerLag('SIFT_METRICS', 'metrics-pruning-runs');
      return lag.pending === 0 && lag.ackPending === 0;
    }, 20_000);
    await bus.close();
    client.close();
    await platform.stop();
    stopped = true;
    const store = await openMetricsStore({ embeddedPath: platform.clickhouseDir });
    try {
      const rs = await store.query({
        query: `SELECT pruned_version, block_size, layers_after, healing, healing_placement, bits_per_byte_before,
                       bits_per_byte_unhealed, bits_per_byte_healed FROM pruning_runs WHERE source_model = 'byte-gpt'`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<Record<string, unknown>>();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        pruned_version: '1',
        block_size: 1,
        layers_after: 7,
        healing: 'linear_least_squares',
        healing_placement: 'fold',
      });
      expect(Number(rows[0]?.bits_per_byte_healed)).toBeGreaterThanOrEqual(Number(rows[0]?.bits_per_byte_before));
      // The row keeps what healing bought: the stored (healed) model predicts better than the bare cut.
      expect(Number(rows[0]?.bits_per_byte_healed)).toBeLessThan(Number(rows[0]?.bits_per_byte_unhealed));
    } finally {
      await store.close();
    }
  }, 40_000);
});
