import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { waitUntil } from '@sift/launcher';
import { expect, it } from 'vitest';
import { writeCorpusWithNearDuplicates } from '../../../services/selection/test/corpus.js';
import { relayedStatuses } from '../src/job-streams.js';
import { decisionsIn, pipeline, type SelectionSuite } from '../src/selection-suite.js';

/**
 * Selection methods in embedding space: SemDeDup over k-means clusters and SSL prototypes, with what
 * the embedding model cannot read (records too long, too large for one message, or with no known token).
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (selection.test.ts calls them in order).
 */

/** The news pipeline (embed, k-means, SemDeDup) from submit to report; later tests read its news.jsonl and out-1. */
export function removesPlantedSemanticDuplicates(suite: SelectionSuite): void {
  it('removes planted semantic near-duplicates, writes the kept records and a report, and streams progress', async () => {
    const { platform, dataDir, submit, job } = suite;
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
    // Every count says what it counts (records, k-means iterations).
    for (const s of statuses)
      if (Number(s.progress?.total ?? 0) > 0) expect(s.progress?.unit).toMatch(/^(records|iterations)$/);

    const { job: finished } = await job(jobId);
    expect(finished.report.recordsTotal).toBe(264);
    expect(finished.status.progress.done).toBe(finished.status.progress.total);
    expect(finished.status.progress.unit).toBe('records');
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
}

/** Embedding records longer than the service takes and records too large for one chunk. */
export function embedsOverlongRecords(suite: SelectionSuite): void {
  it('embeds a corpus with a record longer than the service takes, and records too large for one chunk together', async () => {
    const { dataDir, submit, job } = suite;
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
}

/** Records with no token the model knows: kept aside from clustering, or dropped. */
export function setsAsideUnreadableRecords(suite: SelectionSuite): void {
  it('keeps records the model reads nothing of aside from clustering, or drops them when told to', async () => {
    const { dataDir, submit, job } = suite;
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
}

/** A pipeline that keeps nothing fails unless output.allow_empty is set. */
export function failsEmptyResultUnlessAllowed(suite: SelectionSuite): void {
  it('fails a pipeline that keeps nothing, naming output.allow_empty, and writes an empty kept file when it is set', async () => {
    const { dataDir, submit, final } = suite;
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
}
