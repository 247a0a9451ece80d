import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { subjects } from '@sift/bus';
import { commonV1, selectionV1 } from '@sift/contracts';
import { waitUntil } from '@sift/launcher';
import { expect, it } from 'vitest';
import { writeCorpusWithNearDuplicates } from '../../../services/selection/test/corpus.js';
import { writeCrawl } from '../src/datasets.js';
import { grpcError } from '../src/grpc-refusal.js';
import { expectCancelsEnd, storedEvents } from '../src/job-streams.js';
import { decisionsIn, pipeline, type SelectionSuite } from '../src/selection-suite.js';

/**
 * A selection job's life: resume, cancel, decisions streamed after it, a worker killed mid-job, a service
 * restarted, and the health the gateway reports meanwhile.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (selection.test.ts calls them in order).
 */

/** Every decision StreamDecisions sends for `request`, batch by batch. */
function streamDecisions(
  client: selectionV1.SelectionServiceClient,
  request: Partial<selectionV1.StreamDecisionsRequest> & { jobId: string },
): Promise<selectionV1.RecordDecision[][]> {
  return new Promise((resolve, reject) => {
    const batches: selectionV1.RecordDecision[][] = [];
    const stream = client.streamDecisions(selectionV1.StreamDecisionsRequest.fromPartial(request));
    stream.on('data', (m: selectionV1.StreamDecisionsResponse) => batches.push(m.decisions));
    stream.on('end', () => resolve(batches));
    stream.on('error', reject);
  });
}

/** Resuming a failed job; compares with out-1 of removesPlantedSemanticDuplicates. */
export function resumesFailedJob(suite: SelectionSuite): void {
  it('resumes a failed job into a new one, reusing the stages both share', async () => {
    const { dataDir, submit, job } = suite;
    const dataset = join(dataDir, 'news.jsonl');
    const [embed] = pipeline(dataset, '').steps;
    const failing = await submit({
      ...pipeline(dataset, join(dataDir, 'out-resume-failed')),
      steps: [embed, { name: 'cluster', kmeans: { k: 5000 } }],
    });
    await waitUntil(async () => (await job(failing.body.jobId)).job.status.state === 'JOB_STATE_FAILED', 60_000);
    const resumed = await submit({
      ...pipeline(dataset, join(dataDir, 'out-resumed')),
      resumeJobId: failing.body.jobId,
    });
    expect(resumed.status).toBe(202);
    await waitUntil(async () => /SUCCEEDED|FAILED/.test((await job(resumed.body.jobId)).job.status.state), 60_000);
    const { job: done } = await job(resumed.body.jobId);
    expect(done.status.error ?? '').toBe('');
    expect(done.resumedFromJobId).toBe(failing.body.jobId);
    // The embed stage is the failed job's (its saved summary, timing included); the rest ran anew and
    // decided exactly what the same pipeline decided from scratch in the first test.
    const saved = JSON.parse(
      readFileSync(join(dataDir, 'selection', 'jobs', failing.body.jobId, 'stage-0.json'), 'utf8'),
    );
    expect(done.report.stages[0].seconds).toBe(saved.stageFacts[0].summary.seconds);
    const decisions = (out: string) => readFileSync(join(dataDir, out, 'decisions.jsonl'), 'utf8');
    expect(decisions('out-resumed')).toBe(decisions('out-1'));
    // Only a failed or cancelled job can be resumed.
    const notFailed = await submit({
      ...pipeline(dataset, join(dataDir, 'out-resume-again')),
      resumeJobId: resumed.body.jobId,
    });
    expect(notFailed.status).toBe(409);
    expect(notFailed.body.error.message).toContain('only a failed or cancelled job can be resumed');
  });
}

/** The gateway health check names the embedding and selection services. */
export function reportsUpstreamHealth(suite: SelectionSuite): void {
  it('reports every configured upstream in the gateway health check', async () => {
    const { platform } = suite;
    const res = await fetch(`${platform.gatewayUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', services: { embedding: 'SERVING', selection: 'SERVING' } });
  });
}

/** Cancelling a queued and a running job; needs the one worker free of other jobs. */
export function cancelsQueuedAndRunningJobs(suite: SelectionSuite): void {
  it('cancels a queued job through the gateway and a running one over gRPC, ending their watchers CANCELLED; a finished job is 409', async () => {
    const { platform, dataDir, client, submit, job, final } = suite;
    const cancelOverHttp = async (id: string) => {
      const res = await fetch(`${platform.gatewayUrl}/v1/selection/jobs/${id}/cancel`, { method: 'POST' });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const cancelOverGrpc = (jobId: string) =>
      new Promise<selectionV1.CancelJobResponse>((resolve, reject) =>
        client.cancelJob({ jobId }, (err, res) => (err ? reject(err) : resolve(res))),
      );
    // The one worker runs one job at a time. Two MinHash passes with 1,024 permutations over 30,000 documents
    // keep it busy for many seconds (MinHash reports progress, and so sees the cancel, inside the stage), so
    // that job is running when cancelled and the small job submitted after it is still queued.
    const crawl = join(dataDir, 'crawl-to-cancel.jsonl');
    writeCrawl(crawl, 30_000);
    const slow = await submit({
      dataset: { paths: [crawl], textField: 'text', idField: 'id' },
      steps: [
        { name: 'minhash', minhashDedup: { numPermutations: 1024, jaccardThreshold: 0.8 } },
        { name: 'minhash-loose', minhashDedup: { numPermutations: 1024, jaccardThreshold: 0.5 } },
      ],
      output: { path: join(dataDir, 'out-cancel-running') },
    });
    const small = join(dataDir, 'cancel-small.jsonl');
    writeCorpusWithNearDuplicates(small, 20, 0);
    const exactDedup = (out: string) => ({
      dataset: { paths: [small], textField: 'text', idField: 'id' },
      steps: [{ name: 'exact', exactDedup: {} }],
      output: { path: join(dataDir, out) },
    });
    const later = await submit(exactDedup('out-cancel-queued'));
    expect([slow.status, later.status]).toEqual([202, 202]);
    const running = slow.body.jobId as string;
    const queued = later.body.jobId as string;
    await waitUntil(async () => (await job(running)).job.status.state === 'JOB_STATE_RUNNING', 60_000);
    expect((await job(queued)).job.status.state).toBe('JOB_STATE_QUEUED');

    // Watchers connected before the cancels: Server-Sent Events for the queued job, WatchJob for the running one.
    const events = await fetch(`${platform.gatewayUrl}/v1/selection/jobs/${queued}/events`);
    expect(events.status).toBe(200);
    // The queued job is cancelled at once over HTTP, the running one over gRPC at its next check.
    await expectCancelsEnd({
      events,
      watch: client.watchJob({ jobId: running }),
      queued,
      cancelQueued: () => cancelOverHttp(queued),
      cancelRunning: () => cancelOverGrpc(running),
    });
    const { job: cancelled } = await job(running);
    expect(cancelled.status).toMatchObject({ state: 'JOB_STATE_CANCELLED', error: 'cancelled by a client' });
    expect(cancelled.status.progress.stage).not.toBe('write');

    // Cancelling a cancelled job again is a no-op success, over either protocol.
    expect((await cancelOverGrpc(queued)).status?.state).toBe(commonV1.JobState.JOB_STATE_CANCELLED);
    const again = await cancelOverHttp(running);
    expect(again.status).toBe(200);
    expect(again.body.status.state).toBe('JOB_STATE_CANCELLED');

    // A job that finished cannot be cancelled: 409 through the gateway, FAILED_PRECONDITION over gRPC.
    const done = (await submit(exactDedup('out-cancel-finished'))).body.jobId as string;
    expect((await final(done)).status.state).toBe('JOB_STATE_SUCCEEDED');
    const refusedOverHttp = await cancelOverHttp(done);
    expect(refusedOverHttp.status).toBe(409);
    expect(refusedOverHttp.body.error).toMatchObject({
      type: 'failed_precondition',
      message: `job ${done} already finished (JOB_STATE_SUCCEEDED)`,
    });
    const refused = await grpcError(cancelOverGrpc(done));
    expect(refused?.code).toBe(status.FAILED_PRECONDITION);
    expect((await job(done)).job.status.state).toBe('JOB_STATE_SUCCEEDED');

    // Each job that ended was announced once on job_finished, the one cancelled while queued included (it
    // got job_progressed only). Read from the stream now that all three have ended: the worker let go of
    // the cancelled job's message before it ran the finished job.
    const finished = await storedEvents(platform.natsUrl, subjects.selectionJobFinished, 'e2e-cancel-finished');
    const endsOf = (jobId: string) =>
      finished.filter((e) => e.status?.jobId === jobId).map((e) => commonV1.jobStateToJSON(e.status?.state ?? 0));
    expect(endsOf(queued)).toEqual(['JOB_STATE_CANCELLED']);
    expect(endsOf(running)).toEqual(['JOB_STATE_CANCELLED']);
    expect(endsOf(done)).toEqual(['JOB_STATE_SUCCEEDED']);

    // The worker took the cancelled job's message before the later job's and let it go: it never started,
    // and neither cancelled job wrote outputs.
    const { job: never } = await job(queued);
    expect(never.status.state).toBe('JOB_STATE_CANCELLED');
    expect(Number(never.startedAtMs ?? 0)).toBe(0);
    for (const out of ['out-cancel-queued', 'out-cancel-running']) {
      expect(readdirSync(join(dataDir, out))).toEqual(['.sift-job']);
    }
    // StreamDecisions has nothing to send for a job that did not succeed.
    const notFinished = await grpcError(streamDecisions(client, { jobId: running }));
    expect(notFinished?.code).toBe(status.FAILED_PRECONDITION);
    expect(notFinished?.details).toBe(`job ${running} has not succeeded; decisions exist only for finished jobs`);
  }, 180_000);
}

/** StreamDecisions over a finished job's decisions, with its filters. */
export function answersStreamDecisions(suite: SelectionSuite): void {
  it('answers StreamDecisions with every decision of a finished job, filtered by stage and to the dropped ones', async () => {
    const { dataDir, client, submit, final } = suite;
    // 40 news lines, 4 verbatim copies (dropped by the exact stage) and 6 light rewrites (left to SemDeDup).
    const dataset = join(dataDir, 'decisions-source.jsonl');
    writeCorpusWithNearDuplicates(dataset, 40, 6);
    const originals = readFileSync(dataset, 'utf8').trim().split('\n').slice(0, 4);
    appendFileSync(
      dataset,
      originals.map((l) => `${JSON.stringify({ ...JSON.parse(l), id: `copy-of-${JSON.parse(l).id}` })}\n`).join(''),
    );
    const out = join(dataDir, 'out-decisions');
    const { body } = await submit({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [
        { name: 'exact', exactDedup: {} },
        { name: 'embed', embed: {} },
        { name: 'cluster', kmeans: { k: 4, seed: 1 } },
        { name: 'semdedup', semDedup: { eps: 0.05 } },
      ],
      output: { path: out },
    });
    const jobId = body.jobId as string;
    const finished = await final(jobId);
    expect(finished.status.error ?? '').toBe('');
    const file = decisionsIn(out).map((d) => selectionV1.RecordDecision.fromJSON(d));
    expect(file).toHaveLength(50);

    // Everything, in record order, in batches of the size asked for.
    const batches = await streamDecisions(client, { jobId, batchSize: 7 });
    expect(batches.map((b) => b.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    expect(batches.flat()).toEqual(file);
    expect(batches.flat().map((d) => d.recordId)).toEqual(
      readFileSync(dataset, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    );
    // One stage: exactly the four planted copies, each naming its original.
    const exact = (await streamDecisions(client, { jobId, stages: ['exact'] })).flat();
    expect(exact.map((d) => [d.recordId, d.kept, d.reason, d.duplicateOf])).toEqual(
      originals.map((l) => {
        const id = JSON.parse(l).id as string;
        return [`copy-of-${id}`, false, selectionV1.DecisionReason.DECISION_REASON_EXACT_DUPLICATE, id];
      }),
    );
    // Dropped only: every record not kept, from either stage; the kept ones are the report's count.
    const dropped = (await streamDecisions(client, { jobId, droppedOnly: true })).flat();
    expect(dropped).toEqual(file.filter((d) => !d.kept));
    expect(dropped.length).toBe(50 - Number(finished.report.recordsKept));
    expect(dropped.length).toBeGreaterThan(4);
    // Both filters: the semantic duplicates alone (the kept records' stage is the last one, semdedup, too).
    const semantic = (await streamDecisions(client, { jobId, stages: ['semdedup'], droppedOnly: true })).flat();
    expect(semantic).toEqual(dropped.filter((d) => d.stage === 'semdedup'));
    expect(semantic.length).toBe(dropped.length - 4);
    expect(semantic.every((d) => d.reason === selectionV1.DecisionReason.DECISION_REASON_SEMANTIC_DUPLICATE)).toBe(
      true,
    );
    // A stage the job does not have is a mistake, not a filter that matches nothing.
    const noStage = await grpcError(streamDecisions(client, { jobId, stages: ['semdedup', 'no-such-stage'] }));
    expect(noStage?.code).toBe(status.INVALID_ARGUMENT);
    expect(noStage?.details).toBe(
      `stages[1]: "no-such-stage" is not a stage of job ${jobId}; its stages are exact, embed, cluster, semdedup`,
    );

    // A well-formed id no job has is NOT_FOUND; one that is not a job id at all is INVALID_ARGUMENT.
    const unknown = await grpcError(streamDecisions(client, { jobId: 'job-zzzz-00000000' }));
    expect(unknown?.code).toBe(status.NOT_FOUND);
    expect(unknown?.details).toContain('job-zzzz-00000000');
    const malformed = await grpcError(streamDecisions(client, { jobId: '../../etc' }));
    expect(malformed?.code).toBe(status.INVALID_ARGUMENT);
  });
}

/** A job whose worker is killed mid-job is finished by a restarted one, with the same result. */
export function finishesAfterWorkerKilled(suite: SelectionSuite): void {
  it('finishes a job with the same result after its worker is killed mid-job', async () => {
    const { platform, dataDir, submit, job } = suite;
    const dataset = join(dataDir, 'big.jsonl');
    writeCorpusWithNearDuplicates(dataset, 7000, 500, 9);
    const slow = (out: string) => ({
      ...pipeline(dataset, out),
      steps: [
        { name: 'embed', embed: { batchSize: 256 } },
        { name: 'cluster', kmeans: { k: 100, seed: 3, maxIterations: 60, tolerance: 1e-12 } },
        { name: 'semdedup', semDedup: { eps: 0.05 } },
        { name: 'prototypes', sslPrototypes: { keepFraction: 0.8 } },
      ],
    });
    const reference = join(dataDir, 'out-ref');
    const { body: first } = await submit(slow(reference));
    await waitUntil(async () => (await job(first.jobId)).job.status.state === 'JOB_STATE_SUCCEEDED', 120_000);

    const out = join(dataDir, 'out-killed');
    const { body } = await submit(slow(out));
    // Kill the worker as soon as the embeddings are saved (stage index 2 = the clustering is running).
    await waitUntil(async () => Number((await job(body.jobId)).job.status.stageIndex ?? 0) >= 2, 120_000, 10);
    const worker = platform.children.find((c) => c.name === 'selection' && c.process.exitCode === null);
    expect(worker).toBeDefined();
    expect((await job(body.jobId)).job.status.state).toBe('JOB_STATE_RUNNING');
    worker?.process.kill('SIGKILL');
    await worker?.stop();
    const restarted = await platform.startSelectionReplica(Number(platform.selectionAddress?.split(':')[1]));
    await waitUntil(async () => (await job(body.jobId)).job.status.state === 'JOB_STATE_SUCCEEDED', 120_000);
    // The new worker continued after the saved stages instead of starting over, and reached the same result.
    expect(restarted.logs.join('\n')).toMatch(/"resumingAfterStage":[1-9]/);
    const decisions = (p: string) => readFileSync(join(p, 'decisions.jsonl'), 'utf8');
    expect(decisions(out)).toBe(decisions(reference));
    expect(readFileSync(join(out, 'kept.jsonl'), 'utf8')).toBe(readFileSync(join(reference, 'kept.jsonl'), 'utf8'));
  }, 300_000);
}

/** The gateway serves again as soon as a restarted selection service is SERVING. */
export function servesAfterServiceRestart(suite: SelectionSuite): void {
  it('serves the first request after a selection service restarted at the same address says SERVING', async () => {
    const { platform } = suite;
    const port = Number(platform.selectionAddress?.split(':')[1]);
    for (const c of platform.children.filter((c) => c.name === 'selection' && c.process.exitCode === null)) {
      await c.stop();
    }
    const list = () => fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_size=1`);
    // Down for a while and asked meanwhile: by then grpc-js's default backoff (1 s growing 1.6x to 120 s)
    // would wait 10 s or more before dialling again, and the gateway would keep answering 503.
    for (const until = Date.now() + 12_000; Date.now() < until; ) {
      expect((await list()).status).toBe(503);
      await new Promise((r) => setTimeout(r, 250));
    }
    await platform.startSelectionReplica(port);
    await waitUntil(async () => {
      const health = (await (await fetch(`${platform.gatewayUrl}/healthz`)).json()) as {
        services: Record<string, string>;
      };
      return health.services.selection === 'SERVING';
    }, 60_000);
    const res = await list();
    expect(res.status, await res.clone().text()).toBe(200);
  }, 120_000);
}
