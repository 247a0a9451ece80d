import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { Bus, subjects } from '@sift/bus';
import { commonV1, selectionV1 } from '@sift/contracts';
import { type LocalPlatform, repoRoot, startPlatform, waitUntil } from '@sift/launcher';
import { openMetricsStore } from '@sift/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownSentences } from '../../models/builders/markdown-prose.js';
import { writeCorpusWithNearDuplicates } from '../../services/selection/test/corpus.js';
import { expectCancelsEnd, relayedStatuses, storedEvents } from './src/job-streams.js';

/**
 * A crawl of `count` documents of 200 words from a 5,000-word vocabulary, every 20th a copy of the one
 * before with a word appended (a MinHash near-duplicate): `count / 20` planted.
 */
function writeCrawl(path: string, count: number): void {
  let seed = 5;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    docs.push(
      i % 20 === 19
        ? `${docs[i - 1]} appended`
        : Array.from({ length: 200 }, () => vocab[Math.floor(rand() * vocab.length)]).join(' '),
    );
  }
  writeFileSync(path, docs.map((text, i) => JSON.stringify({ id: `doc-${i}`, text })).join('\n'));
}

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

/**
 * A data engineer's selection job through the real platform: NATS work queue, embedding service,
 * selection worker, metrics consumer on embedded ClickHouse, HTTP gateway.
 */
describe('selection job end to end', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let client: selectionV1.SelectionServiceClient;
  let stopped = false;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sift-sel-'));
    // Jobs may only touch files under the test's folder (SIFT_DATA_ROOTS), as in a shared deployment.
    platform = await startPlatform(
      dataDir,
      { SIFT_SELECTION_ACK_WAIT_MS: '3000', SIFT_DATA_ROOTS: dataDir },
      { selection: true },
    );
    client = new selectionV1.SelectionServiceClient(platform.selectionAddress ?? '', credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    if (!stopped) await platform?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const submit = async (body: unknown) => {
    const res = await fetch(`${platform.gatewayUrl}/v1/selection/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const job = async (id: string) =>
    (await (await fetch(`${platform.gatewayUrl}/v1/selection/jobs/${id}`)).json()) as { job: Record<string, any> };
  const pipeline = (dataset: string, out: string) => ({
    dataset: { paths: [dataset], textField: 'text', idField: 'id' },
    steps: [
      { name: 'embed', embed: { batchSize: 64 } },
      { name: 'cluster', kmeans: { k: 8, seed: 3 } },
      { name: 'semdedup', semDedup: { eps: 0.05, reportEps: [0.005, 0.02, 0.05] } },
    ],
    output: { path: out },
  });

  it('removes planted semantic near-duplicates, writes the kept records and a report, and streams progress', async () => {
    const dataset = join(dataDir, 'news.jsonl');
    const planted = writeCorpusWithNearDuplicates(dataset, 240, 24);
    const out = join(dataDir, 'out-1');
    const submitted = await submit(pipeline(dataset, out));
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.jobId as string;
    // The answer writes out every default the job will run with.
    const [, cluster, semdedup] = submitted.body.resolvedSteps;
    expect(cluster).toMatchObject({ name: 'cluster', kmeans: { k: 8, maxIterations: 20, seed: 3 } });
    expect(Number(cluster.kmeans.sampleSize)).toBe(8 * 256);
    expect(semdedup.semDedup).toMatchObject({ eps: 0.05, reportEps: [0.005, 0.02, 0.05], blockRows: 1024 });

    // Server-Sent Events until the job is final.
    const events = await fetch(`${platform.gatewayUrl}/v1/selection/jobs/${jobId}/events`);
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const statuses = await relayedStatuses(events);
    expect(statuses.at(-1)?.state).toBe('JOB_STATE_SUCCEEDED');
    // A watcher sees the stages from where the job is when it connects (a stage of a few milliseconds may be
    // over by then): only known stages, in pipeline order.
    const stages = ['queued', 'load', 'embed', 'cluster', 'semdedup', 'write'];
    const seen = statuses.map((s) => stages.indexOf(s.progress?.stage ?? ''));
    expect(seen.every((i) => i >= 0)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    const { job: finished } = await job(jobId);
    expect(finished.report.recordsTotal).toBe(264);
    expect(finished.status.progress.done).toBe(finished.status.progress.total);
    // Each stage names the state it saved in the job folder (what a resumed job reuses).
    const [embedStage, clusterStage] = finished.report.stages;
    expect(embedStage.outputPaths.map((p: string) => basename(p))).toEqual(['stage-0.json', 'embeddings.f32']);
    expect(clusterStage.outputPaths.map((p: string) => basename(p)).sort()).toEqual([
      'stage-1.centroids.f32',
      'stage-1.json',
      'stage-1.labels.i32',
      'stage-1.similarity.f32',
    ]);
    // A retried submit with the job's request_id gets the same job; a different request with it is refused.
    const keyed = { ...pipeline(dataset, join(dataDir, 'out-keyed')), requestId: 'curate-news-1' };
    const concurrent = await Promise.all([1, 2, 3].map(() => submit(keyed)));
    const [first] = concurrent as [(typeof concurrent)[number]];
    expect(concurrent.map((r) => [r.status, r.body.jobId])).toEqual(concurrent.map(() => [202, first.body.jobId]));
    expect((await submit(keyed)).body.jobId).toBe(first.body.jobId);
    const changed = await submit({ ...keyed, steps: keyed.steps.slice(0, 2) });
    expect(changed.status).toBe(409);
    expect(changed.body.error.message).toContain(`request_id "curate-news-1" was used for job ${first.body.jobId}`);
    // The output folder is this job's: a second job naming it is refused at submit.
    const again = await submit(pipeline(dataset, out));
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain(`is the output folder of job ${jobId}`);
    // The report's parameters are the submitted answer's, with the embedding model that actually ran named
    // where the request left it to the embedding service's default.
    const [embedAsSubmitted, ...rest] = submitted.body.resolvedSteps;
    expect(embedAsSubmitted.embed.model ?? {}).toEqual({});
    expect(finished.report.resolvedSteps).toEqual([
      { ...embedAsSubmitted, embed: { ...embedAsSubmitted.embed, model: { name: 'glove-sif-100d', version: '1' } } },
      ...rest,
    ]);
    const decisions = readFileSync(join(out, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const byId = new Map(decisions.map((d) => [d.recordId, d]));
    // No planted pair survives whole; what was dropped is a semantic duplicate of a named earlier record.
    // Every line says whether its record was kept, false included (protobuf JSON would drop a false).
    expect(decisions.every((d) => typeof d.kept === 'boolean')).toBe(true);
    expect(decisions.filter((d) => d.kept).every((d) => d.stage === 'semdedup')).toBe(true);
    for (const p of planted) {
      const pair = [byId.get(p.id), byId.get(p.of)];
      expect(pair.filter((d) => d.kept).length, `${p.id} / ${p.of}`).toBeLessThanOrEqual(1);
      for (const d of pair.filter((x) => !x.kept)) {
        expect(d.reason).toBe('DECISION_REASON_SEMANTIC_DUPLICATE');
        expect(byId.has(d.duplicateOf)).toBe(true);
      }
    }
    const kept = readFileSync(join(out, 'kept.jsonl'), 'utf8').trim().split('\n');
    expect(kept.length).toBe(Number(finished.report.recordsKept));
    expect(kept.length).toBeGreaterThanOrEqual(240 - 24);
    expect(JSON.parse(kept[0] as string)).toHaveProperty('source');
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('SemDeDup eps sweep');
  });

  it('resumes a failed job into a new one, reusing the stages both share', async () => {
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

  it('reports every configured upstream in the gateway health check', async () => {
    const res = await fetch(`${platform.gatewayUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', services: { embedding: 'SERVING', selection: 'SERVING' } });
  });

  it('rejects a bad pipeline before any work starts', async () => {
    const dataset = join(dataDir, 'news.jsonl');
    const bad = await submit({ ...pipeline(dataset, join(dataDir, 'x')), steps: [{ semDedup: { eps: 0.05 } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('needs a kmeans step');
    const eps = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: {} }, { kmeans: { k: 4 } }, { semDedup: { eps: 1.5 } }],
    });
    expect(eps.status).toBe(400);
    expect(eps.body.error.message).toContain('steps[2].sem_dedup.eps must be in (0, 1)');
    // A misspelt parameter would otherwise run with its default: the gateway checks bodies against the contract.
    const typo = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: {} }, { kmeans: { k: 4 } }, { semDedup: { eps: 0.05, comparision: 'kept-only' } }],
    });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toContain('steps[2].semDedup.comparision is not a field of SemDedupStep');
    // The text-quality model is looked up at submit, not when the job reaches the step.
    const quality = (languageModel: { name: string }) =>
      submit({
        ...pipeline(dataset, join(dataDir, 'x')),
        steps: [{ textQuality: { keepFraction: 0.5, languageModel } }],
      });
    const unknownModel = await quality({ name: 'no-such-lm' });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.body.error.message).toContain(
      'steps[0].text_quality.language_model: unknown model "no-such-lm"',
    );
    // So are the embedding model (asked of the embedding service) and dedup indexes to load.
    const unknownEmbedder = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: { model: { name: 'glove-sif-300d' } } }],
    });
    expect(unknownEmbedder.status).toBe(404);
    expect(unknownEmbedder.body.error.message).toMatch(
      /^steps\[0\]\.embed\.model: the embedding service has no model glove-sif-300d; it serves .*glove-sif-100d@1/,
    );
    const tooWide = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ embed: { dimensions: 300 } }],
    });
    expect(tooWide.status).toBe(400);
    expect(tooWide.body.error.message).toBe("steps[0].embed.model: dimensions 300 is more than glove-sif-100d's 100");
    const missingIndex = await submit({
      ...pipeline(dataset, join(dataDir, 'x')),
      steps: [{ exactDedup: { index: { loadPaths: [join(dataDir, 'no-such.idx')] } } }],
    });
    expect(missingIndex.status).toBe(404);
    expect(missingIndex.body.error.message).toContain('steps[0].index.load_paths[0]: no index file at');
    const notAnLm = await quality({ name: 'glove-sif-100d' });
    expect(notAnLm.status).toBe(400);
    expect(notAnLm.body.error.message).toContain('is not a byte-level language model');
    const jobsPage = await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_size=-5`);
    expect(jobsPage.status).toBe(400);
    expect(((await jobsPage.json()) as { error: { message: string } }).error.message).toBe(
      'query parameters: page_size must be an integer from 0 to 4294967295; got "-5"',
    );
    const missing = await submit(pipeline(join(dataDir, 'nope.jsonl'), join(dataDir, 'x')));
    expect(missing.status).toBe(404);
    // Files outside the data roots are refused before the service touches them, for reading and writing.
    const outside = await submit(pipeline('/etc/hostname', join(dataDir, 'x')));
    expect(outside.status).toBe(403);
    expect(outside.body.error.message).toContain('dataset.paths[0] /etc/hostname is outside the folders');
    const writeOutside = await submit(pipeline(dataset, join(tmpdir(), 'sift-elsewhere')));
    expect(writeOutside.status).toBe(403);
    expect(writeOutside.body.error.message).toContain('output.path');
    // A relative path would resolve in the service's working directory, which the caller cannot see.
    const relativeOutput = await submit(pipeline(dataset, 'curated/out'));
    expect(relativeOutput.status).toBe(400);
    expect(relativeOutput.body.error.message).toBe(
      'output.path must be an absolute path on the service\'s machine, got "curated/out"',
    );
    expect((await fetch(`${platform.gatewayUrl}/v1/selection/jobs/job-zzzz-00000000`)).status).toBe(404);
    // Watching an unknown job is a 404 too, and the gateway goes on serving (it used to crash on it).
    const events = await fetch(`${platform.gatewayUrl}/v1/selection/jobs/job-zzzz-00000000/events`);
    expect(events.status).toBe(404);
    expect(((await events.json()) as { error: { message: string } }).error.message).toContain('job-zzzz-00000000');
    expect((await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_size=1`)).status).toBe(200);
    // A page token this service never gave is refused instead of restarting from the first page.
    expect((await fetch(`${platform.gatewayUrl}/v1/selection/jobs?page_token=bogus`)).status).toBe(400);
  });

  it('publishes the decisions of records with long ids in events the bus accepts', async () => {
    // 6,000 records with 200-character URL ids: 5,000 decisions in one event would pass NATS's 1 MiB limit.
    const path = join(dataDir, 'urls.jsonl');
    const url = (i: number) => `https://example.org/${'a'.repeat(170)}/${String(i).padStart(8, '0')}`;
    writeFileSync(
      path,
      Array.from({ length: 6000 }, (_, i) => JSON.stringify({ id: url(i), text: `page ${i % 3000}` })).join('\n'),
    );
    const { body } = await submit({
      dataset: { paths: [path], textField: 'text', idField: 'id' },
      steps: [{ name: 'exact', exactDedup: {} }],
      output: { path: join(dataDir, 'out-urls') },
    });
    let state = '';
    await waitUntil(async () => {
      const { job: j } = await job(body.jobId);
      state = j.status.state;
      return state === 'JOB_STATE_SUCCEEDED' || state === 'JOB_STATE_FAILED';
    }, 60_000);
    const { job: finished } = await job(body.jobId);
    expect(finished.status.error ?? '').toBe('');
    expect(state).toBe('JOB_STATE_SUCCEEDED');
    expect(finished.report.recordsKept).toBe(3000);
  });

  it('embeds a corpus with a record longer than the service takes, and records too large for one chunk together', async () => {
    // One 300,000-character text (the service refuses over 200,000) and 40 of 100 KB (256 of them would not
    // fit one 16 MiB message).
    const path = join(dataDir, 'long.jsonl');
    const records = [
      { id: 'huge', text: 'river mountain '.repeat(20_000) },
      ...Array.from({ length: 40 }, (_, i) => ({ id: `big-${i}`, text: `story ${i} `.repeat(10_000) })),
      { id: 'emoji', text: '😀 🎉 😀' }, // nothing GloVe knows: a zero vector, counted in the report
    ];
    writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n'));
    const { body } = await submit({
      dataset: { paths: [path], textField: 'text', idField: 'id' },
      steps: [{ name: 'embed', embed: { batchSize: 256 } }],
      output: { path: join(dataDir, 'out-long') },
    });
    await waitUntil(async () => /SUCCEEDED|FAILED/.test((await job(body.jobId)).job.status.state), 60_000);
    const { job: finished } = await job(body.jobId);
    expect(finished.status.error ?? '').toBe('');
    expect(finished.report.recordsKept).toBe(42);
    const report = JSON.parse(readFileSync(join(dataDir, 'out-long', 'report.json'), 'utf8'));
    expect(report.stages[0].facts.unreadable).toBe(1);
    expect(readFileSync(join(dataDir, 'out-long', 'report.md'), 'utf8')).toContain(
      '1 of 42 records had no token the embedding model knows',
    );
  });

  it('keeps records the model reads nothing of aside from clustering, or drops them when told to', async () => {
    // 60 news lines and 6 texts with no word GloVe knows: their vectors are all zeros. Dropping the hardest
    // half by SSL prototypes would otherwise rank exactly those first (cosine 0 to every centroid).
    const dataset = join(dataDir, 'mixed-scripts.jsonl');
    writeCorpusWithNearDuplicates(dataset, 60, 0);
    const unreadable = ['😀 🎉', 'ありがとう', 'спасибо', '感谢', 'धन्यवाद', '🙂🙂🙂'];
    appendFileSync(dataset, unreadable.map((text, i) => `${JSON.stringify({ id: `u${i}`, text })}\n`).join(''));
    const run = async (policy: string, out: string) => {
      const { body } = await submit({
        dataset: { paths: [dataset], textField: 'text', idField: 'id' },
        steps: [
          { name: 'embed', embed: { unreadable: policy } },
          { name: 'cluster', kmeans: { k: 4, seed: 1 } },
          { name: 'prototypes', sslPrototypes: { keepFraction: 0.5, drop: 'PROTOTYPE_DROP_HARDEST' } },
        ],
        output: { path: join(dataDir, out) },
      });
      await waitUntil(async () => /SUCCEEDED|FAILED/.test((await job(body.jobId)).job.status.state), 60_000);
      expect((await job(body.jobId)).job.status.error ?? '').toBe('');
      const report = JSON.parse(readFileSync(join(dataDir, out, 'report.json'), 'utf8'));
      const decisions = readFileSync(join(dataDir, out, 'decisions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((d) => d.recordId.startsWith('u'));
      return { report, decisions };
    };
    const kept = await run('UNREADABLE_POLICY_KEEP', 'out-unreadable-kept');
    expect(kept.report.stages[0].facts).toMatchObject({ unreadable: 6, unreadablePolicy: 'keep' });
    expect(kept.report.stages[2].facts).toMatchObject({ keepCount: 30, keptAsideUnreadable: 6 });
    expect(kept.decisions.map((d) => [d.kept, d.reason, d.cluster])).toEqual(
      unreadable.map(() => [true, 'DECISION_REASON_KEPT', undefined]),
    );
    expect(kept.report.recordsKept).toBe(36);

    const dropped = await run('UNREADABLE_POLICY_DROP', 'out-unreadable-dropped');
    expect(dropped.decisions.map((d) => [d.kept, d.stage, d.reason])).toEqual(
      unreadable.map(() => [false, 'embed', 'DECISION_REASON_UNREADABLE']),
    );
    expect(dropped.report.stages[2].facts).toMatchObject({ keepCount: 30 });
    expect(readFileSync(join(dataDir, 'out-unreadable-dropped', 'report.md'), 'utf8')).toContain(
      'this step dropped them (reason unreadable)',
    );
  });

  it('fails a job whose k exceeds the records, with the reason', async () => {
    const dataset = join(dataDir, 'tiny.jsonl');
    writeCorpusWithNearDuplicates(dataset, 5, 0);
    const { body } = await submit({
      ...pipeline(dataset, join(dataDir, 'out-tiny')),
      steps: [{ embed: {} }, { kmeans: { k: 50 } }],
    });
    await waitUntil(
      async () => ['JOB_STATE_FAILED', 'JOB_STATE_SUCCEEDED'].includes((await job(body.jobId)).job.status.state),
      30_000,
    );
    const { job: failed } = await job(body.jobId);
    expect(failed.status.state).toBe('JOB_STATE_FAILED');
    expect(failed.status.error).toContain('k = 50 is larger than the 5 records');
  });

  /** The job's decisions file, one parsed line per record. */
  const decisionsIn = (out: string): Record<string, any>[] =>
    readFileSync(join(out, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  const final = async (jobId: string, timeoutMs = 60_000) => {
    await waitUntil(async () => /SUCCEEDED|FAILED|CANCELLED/.test((await job(jobId)).job.status.state), timeoutMs);
    return (await job(jobId)).job;
  };
  const grpcError = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: ServiceError) => e,
    );

  it('cancels a queued job through the gateway and a running one over gRPC, ending their watchers CANCELLED; a finished job is 409', async () => {
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

  it('answers StreamDecisions with every decision of a finished job, filtered by stage and to the dropped ones', async () => {
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

  it('saves an index over an earlier index only, and overwrites only a folder of selection outputs, refusing at submit', async () => {
    const dataset = join(dataDir, 'guard.jsonl');
    writeCorpusWithNearDuplicates(dataset, 20, 0);
    const out = join(dataDir, 'out-guard');
    const index = join(dataDir, 'guard-indexes', 'exact.idx');
    const exactJob = (path: string, savePath: string, overwrite = false) => ({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [{ name: 'exact', exactDedup: { index: { savePath } } }],
      output: { path, overwrite },
    });
    const first = await submit(exactJob(out, index));
    expect(first.status).toBe(202);
    expect((await final(first.body.jobId)).status.state).toBe('JOB_STATE_SUCCEEDED');

    // Another job's record in the service's data folder, and a file of the user's, are not indexes.
    const record = join(dataDir, 'selection', 'jobs', first.body.jobId, 'job.json');
    const recordBefore = readFileSync(record, 'utf8');
    const overRecord = await submit(exactJob(join(dataDir, 'out-guard-2'), record));
    expect(overRecord.status).toBe(400);
    expect(overRecord.body.error.message).toContain(
      `steps[0].index.save_path ${record} is inside the service's data folder (SIFT_SELECTION_DATA_DIR: `,
    );
    const notes = join(dataDir, 'guard-notes.txt');
    writeFileSync(notes, 'keep me');
    const overNotes = await submit(exactJob(join(dataDir, 'out-guard-2'), notes));
    expect(overNotes.status).toBe(409);
    expect(overNotes.body.error.message).toBe(
      `steps[0].index.save_path ${notes} exists and is not a Sift dedup index; saving the index would replace it, so name a new file (or an index an earlier job saved)`,
    );
    const relativeIndex = await submit(exactJob(join(dataDir, 'out-guard-2'), 'indexes/exact.idx'));
    expect(relativeIndex.status).toBe(400);
    expect(relativeIndex.body.error.message).toContain('steps[0].index.save_path must be an absolute path');
    const outsideIndex = await submit(exactJob(join(dataDir, 'out-guard-2'), join(tmpdir(), 'sift-elsewhere.idx')));
    expect(outsideIndex.status).toBe(403);
    expect(outsideIndex.body.error.message).toContain('steps[0].index.save_path');

    // The first job's folder and index may be written again: they hold only what a selection job writes.
    const again = await submit(exactJob(out, index, true));
    expect(again.status).toBe(202);
    expect((await final(again.body.jobId)).status.state).toBe('JOB_STATE_SUCCEEDED');
    // A file of the user's in the folder, or the service's own folder, are not the outputs of a job.
    writeFileSync(join(out, 'notes.md'), 'mine');
    const foreign = await submit(exactJob(out, '', true));
    expect(foreign.status).toBe(409);
    expect(foreign.body.error.message).toContain(`output.path ${out} holds notes.md, which no selection job writes`);
    const intoService = await submit(exactJob(join(dataDir, 'selection', 'jobs', first.body.jobId), '', true));
    expect(intoService.status).toBe(400);
    expect(intoService.body.error.message).toContain("is inside the service's data folder");

    // Nothing that was there is lost.
    expect(readFileSync(record, 'utf8')).toBe(recordBefore);
    expect(readFileSync(notes, 'utf8')).toBe('keep me');
    expect(readFileSync(join(out, 'notes.md'), 'utf8')).toBe('mine');
    expect(readFileSync(join(out, '.sift-job'), 'utf8').trim()).toBe(again.body.jobId);

    // A NUL character in any path is refused, naming the field, before the file system sees it.
    const nul = `${dataDir}/bad\u0000name`;
    const withNul = [
      [{ ...exactJob(out, ''), dataset: { paths: [nul], textField: 'text' } }, 'dataset.paths[0]'],
      [exactJob(nul, ''), 'output.path'],
      [exactJob(join(dataDir, 'out-guard-2'), nul), 'steps[0].index.save_path'],
      [
        { ...exactJob(join(dataDir, 'out-guard-2'), ''), steps: [{ exactDedup: { index: { loadPaths: [nul] } } }] },
        'steps[0].index.load_paths[0]',
      ],
    ] as const;
    for (const [body, field] of withNul) {
      const refused = await submit(body);
      expect(refused.status, field).toBe(400);
      expect(refused.body.error.message).toBe(`${field} contains a NUL character`);
    }
  });

  it('bounds what a request holds and a job error repeats, and refuses enum numbers the contract lacks', async () => {
    const dataset = join(dataDir, 'bounds.jsonl');
    writeCorpusWithNearDuplicates(dataset, 10, 0);
    const request = selectionV1.SubmitJobRequest.fromPartial({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [{ name: 'exact', kind: { $case: 'exactDedup', value: {} } }],
      output: { path: join(dataDir, 'out-bounds') },
    });
    /** `request` with some of its dataset's and output's fields changed, over gRPC. */
    const submitOverGrpc = (change: {
      dataset?: Partial<selectionV1.Dataset>;
      output?: Partial<selectionV1.OutputSpec>;
      steps?: selectionV1.Step[];
    }) =>
      new Promise<selectionV1.SubmitJobResponse>((resolve, reject) =>
        client.submitJob(
          {
            ...request,
            dataset: { ...(request.dataset as selectionV1.Dataset), ...change.dataset },
            output: { ...(request.output as selectionV1.OutputSpec), ...change.output },
            steps: change.steps ?? request.steps,
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    const listOverGrpc = (req: Partial<selectionV1.ListJobsRequest>) =>
      new Promise<selectionV1.ListJobsResponse>((resolve, reject) =>
        client.listJobs(selectionV1.ListJobsRequest.fromPartial(req), (err, res) => (err ? reject(err) : resolve(res))),
      );
    const huge = await grpcError(submitOverGrpc({ dataset: { textField: 'x'.repeat(7_000_000) } }));
    expect(huge?.code).toBe(status.INVALID_ARGUMENT);
    expect(huge?.details).toBe('dataset.text_field has 7000000 characters; at most 256');
    const manySteps = await grpcError(submitOverGrpc({ steps: Array(65).fill(request.steps[0]) }));
    expect(manySteps?.code).toBe(status.INVALID_ARGUMENT);
    expect(manySteps?.details).toBe('steps: 65 steps; a pipeline has at most 64 (split the work into several jobs)');
    const format = await grpcError(submitOverGrpc({ dataset: { format: 99 as selectionV1.DatasetFormat } }));
    expect(format?.code).toBe(status.INVALID_ARGUMENT);
    expect(format?.details).toMatch(/^dataset\.format has the unknown value 99; expected one of DATASET_FORMAT_/);
    const outFormat = await grpcError(submitOverGrpc({ output: { format: 7 as selectionV1.DatasetFormat } }));
    expect(outFormat?.details).toMatch(/^output\.format has the unknown value 7/);
    for (const state of [99, -1]) {
      const listed = await grpcError(listOverGrpc({ states: [1, state as commonV1.JobState] }));
      expect(listed?.code).toBe(status.INVALID_ARGUMENT);
      expect(listed?.details).toMatch(
        new RegExp(`^states\\[1\\] has the unknown value ${state}; expected one of JOB_STATE_`),
      );
    }

    // A job whose error would repeat a megabyte of the dataset keeps a bounded part of it.
    const longId = 'i'.repeat(1_000_000);
    const copies = join(dataDir, 'bounds-duplicate-ids.jsonl');
    writeFileSync(
      copies,
      `${JSON.stringify({ id: longId, text: 'a' })}\n${JSON.stringify({ id: longId, text: 'b' })}\n`,
    );
    const failing = await submitOverGrpc({
      dataset: { paths: [copies] },
      output: { path: join(dataDir, 'out-bounds-ids') },
    });
    const failed = await final(failing.jobId);
    expect(failed.status.state).toBe('JOB_STATE_FAILED');
    expect(failed.status.error).toMatch(/^duplicate record id "i{200}…": records 0 and 1/);
    expect(failed.status.error.length).toBeLessThanOrEqual(2000);
    const page = await listOverGrpc({ pageSize: 500, states: [commonV1.JobState.JOB_STATE_FAILED] });
    expect(page.jobs.find((j) => j.jobId === failing.jobId)?.error).toBe(failed.status.error);
  });

  it('fails a pipeline that keeps nothing, naming output.allow_empty, and writes an empty kept file when it is set', async () => {
    // Texts with no word GloVe knows, dropped as unreadable: nothing is left.
    const dataset = join(dataDir, 'nothing-readable.jsonl');
    writeFileSync(
      dataset,
      ['😀 🎉', 'ありがとう', 'спасибо', '🙂🙂🙂'].map((text, i) => JSON.stringify({ id: `e${i}`, text })).join('\n'),
    );
    const run = async (out: string, allowEmpty: boolean) => {
      const { body } = await submit({
        dataset: { paths: [dataset], textField: 'text', idField: 'id' },
        steps: [{ name: 'embed', embed: { unreadable: 'UNREADABLE_POLICY_DROP' } }],
        output: { path: join(dataDir, out), ...(allowEmpty ? { allowEmpty } : {}) },
      });
      return final(body.jobId);
    };
    const refused = await run('out-empty-refused', false);
    expect(refused.status.state).toBe('JOB_STATE_FAILED');
    expect(refused.status.error).toBe(
      'the pipeline kept no record; loosen its parameters or set output.allow_empty if an empty result is intended',
    );
    expect(existsSync(join(dataDir, 'out-empty-refused', 'kept.jsonl'))).toBe(false);

    const allowed = await run('out-empty-allowed', true);
    expect(allowed.status.state, allowed.status.error).toBe('JOB_STATE_SUCCEEDED');
    expect(readFileSync(join(dataDir, 'out-empty-allowed', 'kept.jsonl'), 'utf8')).toBe('');
    expect(decisionsIn(join(dataDir, 'out-empty-allowed')).map((d) => [d.recordId, d.kept, d.reason])).toEqual(
      ['e0', 'e1', 'e2', 'e3'].map((id) => [id, false, 'DECISION_REASON_UNREADABLE']),
    );
    const report = JSON.parse(readFileSync(join(dataDir, 'out-empty-allowed', 'report.json'), 'utf8'));
    expect([report.recordsTotal, report.recordsKept]).toEqual([4, 0]);
  });

  it('tells a job id that is not one (400) from an unknown one (404) on every job route', async () => {
    const at = (path: string, method = 'GET') => fetch(`${platform.gatewayUrl}/v1/selection/jobs/${path}`, { method });
    for (const [path, method] of [
      ['', 'GET'],
      ['/events', 'GET'],
      ['/cancel', 'POST'],
    ] as const) {
      const malformed = await at(`not-a-job${path}`, method);
      expect(malformed.status, `${method} not-a-job${path}`).toBe(400);
      expect(((await malformed.json()) as { error: { message: string } }).error.message).toBe(
        'job_id "not-a-job" is not a selection job id',
      );
      // A path-traversal attempt is a malformed id too, not an unknown route.
      const traversal = await at(`..%2F..%2Fetc${path}`, method);
      expect(traversal.status, `${method} ..%2F..%2Fetc${path}`).toBe(400);
      const unknown = await at(`job-zzzz-00000000${path}`, method);
      expect(unknown.status, `${method} job-zzzz-00000000${path}`).toBe(404);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe(
        'unknown job "job-zzzz-00000000"',
      );
    }
  });

  it('finishes a job with the same result after its worker is killed mid-job', async () => {
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

  it('serves the first request after a selection service restarted at the same address says SERVING', async () => {
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

  it('prunes a code corpus by length and by SCIP, reporting how corrupted files move in embedding space', async () => {
    // Real source files: the JavaScript of an installed npm package, one record per file.
    const root = join(repoRoot, 'node_modules/@grpc/grpc-js/build/src');
    const files = readdirSync(root)
      .filter((f) => f.endsWith('.js'))
      .sort();
    const dataset = join(dataDir, 'code.jsonl');
    writeFileSync(
      dataset,
      files.map((f) => JSON.stringify({ path: f, content: readFileSync(join(root, f), 'utf8') })).join('\n'),
    );
    const out = join(dataDir, 'out-code');
    const { body } = await submit({
      dataset: { paths: [dataset], textField: 'content', idField: 'path' },
      steps: [
        { name: 'long-files', longFilePruning: { tokenShare: 0.2 } },
        { name: 'embed', embed: { model: { name: 'code-ngram' } } },
        { name: 'cluster', kmeans: { k: 6, seed: 2 } },
        {
          name: 'scip',
          scip: { pruneFraction: 0.2, smallClusterShare: 0.5, corruptionReport: true, corruptionSamples: 40, seed: 1 },
        },
      ],
      output: { path: out },
    });
    await waitUntil(
      async () => ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED'].includes((await job(body.jobId)).job.status.state),
      60_000,
    );
    const { job: done } = await job(body.jobId);
    expect(done.status.error ?? '').toBe('');
    const decisions = readFileSync(join(out, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const size = (id: string) => readFileSync(join(root, id), 'utf8').length;
    const long = decisions.filter((d) => d.reason === 'DECISION_REASON_LONG_FILE');
    expect(long.length).toBeGreaterThan(0);
    // Every file dropped as long is at least as long as every file that survived the length stage.
    const survivors = decisions.filter((d) => d.reason !== 'DECISION_REASON_LONG_FILE');
    expect(Math.min(...long.map((d) => size(d.recordId)))).toBeGreaterThan(
      Math.max(...survivors.map((d) => size(d.recordId))) * 0.5,
    );
    const scip = decisions.filter((d) =>
      ['DECISION_REASON_SMALL_CLUSTER', 'DECISION_REASON_FAR_FROM_CENTROID'].includes(d.reason),
    );
    expect(scip.length).toBe(Math.round(0.2 * survivors.length));
    // Kept files carry SCIP's score (their distance to the centroid), dropped ones their dropping stage's.
    for (const d of decisions.filter((d) => d.kept)) {
      expect(d).toMatchObject({ scoreStage: 'scip', score: expect.any(Number) });
      expect(d.score).toBeGreaterThanOrEqual(0);
    }
    for (const d of long) expect(d).toMatchObject({ scoreStage: 'long-files', score: expect.any(Number) });
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const corruption = report.stages.find((s: { stage: string }) => s.stage === 'scip').facts.corruption;
    expect(corruption.pairs).toBeGreaterThan(10);
    expect(Object.keys(corruption.byGroup)).toEqual(
      expect.arrayContaining(['flip-comparison', 'remove-closing-bracket']),
    );
  });

  it('drops exact and MinHash near-duplicate source files, and dedups a later dataset against saved indexes', async () => {
    const root = join(repoRoot, 'node_modules/@grpc/grpc-js/build/src');
    const files = readdirSync(root)
      .filter((f) => f.endsWith('.js'))
      .sort();
    const code = files.map((f) => ({ path: f, content: readFileSync(join(root, f), 'utf8') }));
    const big = code.filter((c) => c.content.length > 4000);
    // Planted: 5 verbatim copies and 5 near-copies (one line removed, one comment added).
    const exact = big.slice(0, 5).map((c) => ({ path: `mirror/${c.path}`, content: c.content }));
    const near = big.slice(5, 10).map((c) => {
      const lines = c.content.split('\n');
      lines.splice(Math.floor(lines.length / 2), 1);
      return { path: `fork/${c.path}`, content: `// vendored copy\n${lines.join('\n')}` };
    });
    const first = join(dataDir, 'code-v1.jsonl');
    writeFileSync(first, [...code, ...exact, ...near].map((r) => JSON.stringify(r)).join('\n'));
    const indexDir = join(dataDir, 'indexes');
    const steps = (save: boolean, load: boolean) => [
      {
        name: 'exact',
        exactDedup: {
          index: {
            ...(load ? { loadPaths: [join(indexDir, 'exact.idx')] } : {}),
            ...(save ? { savePath: join(indexDir, 'exact.idx') } : {}),
          },
        },
      },
      {
        name: 'minhash',
        minhashDedup: {
          jaccardThreshold: 0.8,
          index: {
            ...(load ? { loadPaths: [join(indexDir, 'minhash.idx')] } : {}),
            ...(save ? { savePath: join(indexDir, 'minhash.idx') } : {}),
          },
        },
      },
    ];
    const run = async (dataset: string, out: string, save: boolean, load: boolean) => {
      mkdirSync(indexDir, { recursive: true });
      const { body } = await submit({
        dataset: { paths: [dataset], textField: 'content', idField: 'path' },
        steps: steps(save, load),
        output: { path: out },
      });
      await waitUntil(
        async () => ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED'].includes((await job(body.jobId)).job.status.state),
        60_000,
      );
      expect((await job(body.jobId)).job.status.error ?? '').toBe('');
      return new Map(
        readFileSync(join(out, 'decisions.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => {
            const d = JSON.parse(l);
            return [d.recordId as string, d];
          }),
      );
    };
    const d1 = await run(first, join(dataDir, 'out-dedup-1'), true, false);
    for (const c of exact) {
      expect(d1.get(c.path)).toMatchObject({ reason: 'DECISION_REASON_EXACT_DUPLICATE', duplicateOf: c.path.slice(7) });
    }
    for (const c of near) {
      expect(d1.get(c.path)).toMatchObject({ reason: 'DECISION_REASON_NEAR_DUPLICATE', duplicateOf: c.path.slice(5) });
    }
    // Incremental: a later crawl with 3 files seen before and 2 new ones.
    const second = join(dataDir, 'code-v2.jsonl');
    const later = [
      ...code.slice(0, 3).map((c) => ({ path: `crawl2/${c.path}`, content: c.content })),
      { path: 'new/a.js', content: 'export const a = 1;\n' },
      { path: 'new/b.js', content: 'export function b(x) { return x * 2; }\n' },
    ];
    writeFileSync(second, later.map((r) => JSON.stringify(r)).join('\n'));
    const d2 = await run(second, join(dataDir, 'out-dedup-2'), false, true);
    for (const c of code.slice(0, 3)) {
      expect(d2.get(`crawl2/${c.path}`)).toMatchObject({
        reason: 'DECISION_REASON_INDEXED_DUPLICATE',
        duplicateOf: c.path,
      });
    }
    expect(d2.get('new/a.js')?.kept).toBe(true);
    expect(d2.get('new/b.js')?.kept).toBe(true);
  });

  it('keeps the documents whose lines pass the perplexity-weighted quality filters (byte-gpt)', async () => {
    const prose = markdownSentences(readFileSync(join(repoRoot, 'node_modules/@grpc/grpc-js/README.md'), 'utf8'))
      .concat(markdownSentences(readFileSync(join(repoRoot, 'node_modules/protobufjs/README.md'), 'utf8')))
      .filter((l) => l.split(' ').length >= 6);
    const junk = [
      'ALL RIGHTS RESERVED. PRIVACY POLICY | TERMS OF USE',
      '404 8812 1193 5521 0042 7781',
      'function () { return { a: 1 } }',
      'Accept cookies to continue',
      'HOME | NEWS | CONTACT',
    ];
    const docs = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? { id: `clean-${i}`, text: [0, 1, 2].map((k) => prose[(3 * i + k) % prose.length]).join('\n') }
        : { id: `junk-${i}`, text: [...junk.slice(0, 4), prose[i % prose.length]].join('\n') },
    );
    const dataset = join(dataDir, 'web.jsonl');
    writeFileSync(dataset, docs.map((d) => JSON.stringify(d)).join('\n'));
    const out = join(dataDir, 'out-quality');
    const { body } = await submit({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [{ name: 'quality', textQuality: { keepFraction: 0.5, weightSampleSize: 40 } }],
      output: { path: out },
    });
    await waitUntil(
      async () => ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED'].includes((await job(body.jobId)).job.status.state),
      120_000,
    );
    expect((await job(body.jobId)).job.status.error ?? '').toBe('');
    const kept = readFileSync(join(out, 'kept.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).id as string);
    expect(kept).toHaveLength(20);
    // Half the corpus is clean; the weighted filters must keep clearly more clean pages than chance.
    expect(kept.filter((id) => id.startsWith('clean')).length).toBeGreaterThanOrEqual(15);
    // Every decision carries the document's quality score; no dropped document outscored a kept one.
    const decisions = readFileSync(join(out, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const d of decisions) expect(d).toMatchObject({ scoreStage: 'quality', score: expect.any(Number) });
    const scores = (kept: boolean) => decisions.filter((d) => d.kept === kept).map((d) => d.score as number);
    expect(Math.min(...scores(true))).toBeGreaterThanOrEqual(Math.max(...scores(false)));
    const facts = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).stages[0].facts;
    expect(facts.model).toBe('byte-gpt');
    expect(facts.pplAll).toBeGreaterThan(1);
    console.info('text-quality weights', JSON.stringify(facts.weights), 'PPL_all', facts.pplAll);
  }, 180_000);

  it('keeps a long MinHash stage with its worker: no second replica takes the job meanwhile', async () => {
    // 30,000 documents with 512 permutations: seconds of MinHash, longer than the 3 s ack wait here. Run in
    // one go, the pass would silence the worker's heartbeats and JetStream would hand the job to the other
    // replica mid-stage; run cooperatively, the heartbeats go out and progress is reported inside the stage.
    const extra = await platform.startSelectionReplica();
    const dataset = join(dataDir, 'crawl.jsonl');
    writeCrawl(dataset, 30_000);
    const { body } = await submit({
      dataset: { paths: [dataset], textField: 'text', idField: 'id' },
      steps: [{ name: 'minhash', minhashDedup: { numPermutations: 512, jaccardThreshold: 0.8 } }],
      output: { path: join(dataDir, 'out-crawl') },
    });
    const jobId = body.jobId as string;
    const insideStage: number[] = [];
    await waitUntil(
      async () => {
        const { status } = (await job(jobId)).job;
        if (status.progress?.stage === 'minhash') insideStage.push(Number(status.progress?.done ?? 0));
        return ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED'].includes(status.state);
      },
      120_000,
      100,
    );
    const { job: finished } = await job(jobId);
    expect(finished.status.state, finished.status.error).toBe('JOB_STATE_SUCCEEDED');
    expect(Number(finished.report.recordsKept)).toBe(30_000 - 1500);
    // Exactly one worker ever started the job, and progress moved within the stage.
    const starts = platform.children
      .filter((c) => c.name === 'selection')
      .flatMap((c) => c.logs)
      .filter((l) => l.includes('"msg":"job running"') && l.includes(jobId));
    expect(starts).toHaveLength(1);
    expect(insideStage.some((done) => done > 0 && done < 30_000)).toBe(true);
    await extra.stop();
  }, 180_000);

  it('lands every decision in ClickHouse selection_decisions', async () => {
    const bus = await Bus.connect(platform.natsUrl, 'e2e-observer');
    await waitUntil(async () => {
      const lag = await bus.consumerLag('SIFT_EVENTS', 'metrics-selection-decisions');
      return lag.pending === 0 && lag.ackPending === 0;
    }, 30_000);
    await bus.close();
    await platform.stop();
    stopped = true;
    const store = await openMetricsStore({ embeddedPath: platform.clickhouseDir });
    try {
      const rs = await store.query({
        query: `SELECT job_id, count() AS n, countIf(reason = 'semantic_duplicate') AS dups FROM selection_decisions
                GROUP BY job_id ORDER BY n`,
        format: 'JSONEachRow',
      });
      const perJob = await rs.json<{ job_id: string; n: number | string; dups: number | string }>();
      const rows = perJob.map((r) => Number(r.n));
      // One row per record of each successful job (the failed and cancelled jobs decided nothing): the 40 web
      // pages, the 50 and 20-record jobs of the StreamDecisions and cancel tests, the 4 records kept empty,
      // the code corpora (67 files; 77 and 5 in the dedup jobs), the 42 long records, the two 66-record
      // mixed-script jobs, the keyed and the resumed 264-record news jobs, the 264-record news
      // job, the 6,000 long-id records, the two 7,500-record jobs of the kill test, and the 30,000-document
      // crawl.
      expect(rows.slice(-5)).toEqual([264, 6000, 7500, 7500, 30_000]);
      expect(rows).toEqual(expect.arrayContaining([40, 5, 42, 66, 66]));

      // Per job and reason, the rows are the job's decisions file line for line. The job of an output folder
      // is the one its .sift-job names; cancelled and failed jobs wrote no decisions (and sent none).
      const counts = await store.query({
        query: `SELECT job_id, reason, count() AS n FROM selection_decisions GROUP BY job_id, reason`,
        format: 'JSONEachRow',
      });
      const stored = new Map<string, Record<string, number>>();
      for (const r of await counts.json<{ job_id: string; reason: string; n: number | string }>()) {
        stored.set(r.job_id, { ...stored.get(r.job_id), [r.reason]: Number(r.n) });
      }
      const jobOf = (out: string) => readFileSync(join(dataDir, out, '.sift-job'), 'utf8').trim();
      const written = (out: string) => {
        const byReason: Record<string, number> = {};
        for (const d of decisionsIn(join(dataDir, out))) {
          const reason = (d.reason as string).replace('DECISION_REASON_', '').toLowerCase();
          byReason[reason] = (byReason[reason] ?? 0) + 1;
        }
        return byReason;
      };
      const outputs = readdirSync(dataDir).filter((f) => existsSync(join(dataDir, f, 'decisions.jsonl')));
      expect(outputs.length).toBeGreaterThanOrEqual(15);
      for (const out of outputs) expect(stored.get(jobOf(out)), out).toEqual(written(out));
      // And the counts the tests above fixed by construction: the news jobs dropped only semantic duplicates
      // (each planted pair lost one record; 264 less what the job kept), the URL pages are 3,000 texts twice,
      // every 20th crawl document is a near copy, the six unreadable texts were dropped as such.
      const keptNews = readFileSync(join(dataDir, 'out-1', 'kept.jsonl'), 'utf8')
        .trim()
        .split('\n').length;
      for (const out of ['out-1', 'out-keyed', 'out-resumed']) {
        const row = perJob.find((r) => r.job_id === jobOf(out));
        expect(Number(row?.dups), out).toBe(264 - keptNews);
        expect(stored.get(jobOf(out)), out).toEqual({ kept: keptNews, semantic_duplicate: 264 - keptNews });
      }
      expect(264 - keptNews).toBeGreaterThanOrEqual(24);
      expect(stored.get(jobOf('out-urls'))).toEqual({ kept: 3000, exact_duplicate: 3000 });
      expect(stored.get(jobOf('out-crawl'))).toEqual({ kept: 28_500, near_duplicate: 1500 });
      expect(stored.get(jobOf('out-unreadable-dropped'))?.unreadable).toBe(6);
      expect(stored.has(jobOf('out-cancel-running'))).toBe(false);
      expect(stored.has(jobOf('out-empty-refused'))).toBe(false);
      // The web pages' rows carry their quality score, kept and dropped alike.
      const scored = await store.query({
        query: `SELECT count() AS n FROM selection_decisions WHERE score_stage = 'quality' AND score IS NOT NULL`,
        format: 'JSONEachRow',
      });
      expect((await scored.json<{ n: number | string }>()).map((r) => Number(r.n))).toEqual([40]);
    } finally {
      await store.close();
    }
  });
});
