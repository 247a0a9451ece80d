import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { Bus } from '@sift/bus';
import { commonV1, pruningV1 } from '@sift/contracts';
import { repoRoot, waitUntil } from '@sift/launcher';
import { openMetricsStore } from '@sift/metrics';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { call, refusalOf, watch } from '../src/pruning-calls.js';
import { calibration, evaluation, type PruningSuite } from '../src/pruning-suite.js';

/**
 * Analyse the layers of byte-gpt, prune the least useful one with healing, store and run the new version;
 * and the run as the metrics consumer stored it in ClickHouse.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (pruning.test.ts calls them in order).
 */

/**
 * Analysis, pruning with healing and the stored version of byte-gpt; the only pruning of byte-gpt, which
 * landsPruningRunInClickHouse reads.
 */
export function analysesPrunesAndHeals(suite: PruningSuite): void {
  it('analyses the layers, prunes the least useful one with healing and stores a new version that runs', async () => {
    const { platform, modelsDir, client } = suite;
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
}

/** The pruning run of analysesPrunesAndHeals in ClickHouse; stops the platform, so it runs last. */
export function landsPruningRunInClickHouse(suite: PruningSuite): void {
  it('lands the pruning run in ClickHouse pruning_runs', async () => {
    const { platform, client, stop } = suite;
    const bus = await Bus.connect(platform.natsUrl, 'e2e-observer');
    await waitUntil(async () => {
      const lag = await bus.consumerLag('SIFT_METRICS', 'metrics-pruning-runs');
      return lag.pending === 0 && lag.ackPending === 0;
    }, 20_000);
    await bus.close();
    client.close();
    await stop();
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
}
