import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { commonV1, pruningV1 } from '@sift/contracts';
import { waitUntil } from '@sift/launcher';
import { expect, it } from 'vitest';
import { readmeTexts } from '../src/datasets.js';
import { expectCancelsEnd } from '../src/job-streams.js';
import { call, refusalOf, watch } from '../src/pruning-calls.js';
import { calibration, evaluation, type PruningSuite } from '../src/pruning-suite.js';

/**
 * A pruning job's life: an analysis finished after its worker is killed, and cancels.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (pruning.test.ts calls them in order).
 */

/** An analysis whose worker is killed mid-evaluation is finished by a restarted one, with the same loss table. */
export function finishesAnalysisAfterWorkerKilled(suite: PruningSuite): void {
  it('finishes an analysis with the same loss table after its worker is killed mid-evaluation', async () => {
    const { platform, dataDir, client, submitAnalysis } = suite;
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
}

/** Cancelling a queued pruning and a running analysis; a finished job is 409. */
export function cancelsQueuedPruningAndRunningAnalysis(suite: PruningSuite): void {
  it('cancels a queued pruning and a running analysis, ending their watchers CANCELLED; a finished job is 409', async () => {
    const { platform, modelsDir, client } = suite;
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
}
