import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '@sift/launcher';
import { expect, it } from 'vitest';
import { grpcJsSources, writeCrawl } from '../src/datasets.js';
import { decisionsIn, type SelectionSuite } from '../src/selection-suite.js';

/**
 * Lexical dedup: exact and MinHash near-duplicates, incremental dedup against saved indexes, and the
 * bus and worker limits a large dedup job meets.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (selection.test.ts calls them in order).
 */

/** Exact dedup of 6,000 long-id records, whose decisions need several bus events. */
export function publishesLongIdDecisions(suite: SelectionSuite): void {
  it('publishes the decisions of records with long ids in events the bus accepts', async () => {
    const { dataDir, submit, job } = suite;
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
}

/** Exact and MinHash dedup of source files, then of a later crawl against the first's saved indexes. */
export function dedupsSourceFilesIncrementally(suite: SelectionSuite): void {
  it('drops exact and MinHash near-duplicate source files, and dedups a later dataset against saved indexes', async () => {
    const { dataDir, submit, job } = suite;
    const code = grpcJsSources();
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
}

/** A long MinHash stage keeps its job from a second replica; stops that replica at its end. */
export function keepsLongMinhashStageWithItsWorker(suite: SelectionSuite): void {
  it('keeps a long MinHash stage with its worker: no second replica takes the job meanwhile', async () => {
    const { platform, dataDir, submit, job } = suite;
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
}

/**
 * A crawl with a few records whose text is null, missing or a number: skipped when asked (and decided as
 * such), failing the job by default, and failing it when more of them than the cap allows.
 */
export function skipsInvalidRecordsWhenAsked(suite: SelectionSuite): void {
  it('skips records without a string text when asked, fails on them by default, and fails above the cap', async () => {
    const { dataDir, submit, final } = suite;
    const valid = Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `page-${i}`, text: `page ${i} body` }));
    const invalid = ['{"id": "page-null", "text": null}', '{"id": "page-missing", "title": "x"}', '{"text": 404}'];
    // Lines 4, 8 and 12 (1-based) are the invalid ones; the last has no id, so its decision carries # and its
    // position (a bare 11 could be another record's id).
    const lines = [
      ...valid.slice(0, 3),
      invalid[0],
      ...valid.slice(3, 6),
      invalid[1],
      ...valid.slice(6, 9),
      invalid[2],
      ...valid.slice(9),
    ];
    const path = join(dataDir, 'invalid-texts.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const job = (out: string, dataset: Record<string, unknown>) => ({
      dataset: { paths: [path], textField: 'text', idField: 'id', ...dataset },
      steps: [{ name: 'exact', exactDedup: {} }],
      output: { path: join(dataDir, out), writeDropped: true },
    });

    // The new fields through the gateway's protobuf JSON, no gateway code.
    const skipped = await submit(
      job('out-invalid-skipped', { invalidRecords: 'INVALID_RECORDS_SKIP', maxInvalidFraction: 0.25 }),
    );
    expect(skipped.status, JSON.stringify(skipped.body)).toBe(202);
    const done = await final(skipped.body.jobId);
    expect(done.status.error ?? '').toBe('');
    expect(done.status.state).toBe('JOB_STATE_SUCCEEDED');
    expect(done.report).toMatchObject({ recordsTotal: 15, recordsKept: 12, recordsInvalid: 3 });
    expect(done.dataset).toMatchObject({ invalidRecords: 'INVALID_RECORDS_SKIP', maxInvalidFraction: 0.25 });
    const out = join(dataDir, 'out-invalid-skipped');
    expect(readFileSync(join(out, 'kept.jsonl'), 'utf8').trim().split('\n')).toEqual(valid);
    const decisions = decisionsIn(out).filter((d) => !d.kept);
    expect(decisions.map((d) => [d.recordId, d.stage, d.reason, d.detail])).toEqual([
      ['page-null', 'load', 'DECISION_REASON_INVALID_RECORD', `text field "text" is null at ${path}:4`],
      [
        'page-missing',
        'load',
        'DECISION_REASON_INVALID_RECORD',
        `missing text field "text" (the record has fields id, title) at ${path}:8`,
      ],
      ['#11', 'load', 'DECISION_REASON_INVALID_RECORD', `text field "text" is not a string (got number) at ${path}:12`],
    ]);
    const dropped = readFileSync(join(out, 'dropped.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(dropped.map((r) => r._sift.recordId)).toEqual(['page-null', 'page-missing', '#11']);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.invalidRecords.count).toBe(3);
    expect(report.invalidRecords.first.map((r: { detail: string }) => r.detail.split(' at ')[1])).toEqual([
      `${path}:4`,
      `${path}:8`,
      `${path}:12`,
    ]);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('Skipped **3** invalid records at load');
    // The exact-dedup stage saw only the 12 valid records.
    expect(report.stages[0]).toMatchObject({ stage: 'exact', recordsIn: 12, recordsKept: 12 });

    // By default the first invalid record fails the job, naming file and line.
    const failing = await submit(job('out-invalid-failed', {}));
    const failed = await final(failing.body.jobId);
    expect(failed.status.state).toBe('JOB_STATE_FAILED');
    expect(failed.status.error).toContain(`text field "text" is null at ${path}:4`);

    // Skipping under the default 1% cap: 3 of 15 is too many, and the job says so.
    const capped = await submit(job('out-invalid-capped', { invalidRecords: 'INVALID_RECORDS_SKIP' }));
    const over = await final(capped.body.jobId);
    expect(over.status.state).toBe('JOB_STATE_FAILED');
    expect(over.status.error).toContain(
      '3 of 15 records (20.0%) are invalid, more than dataset.max_invalid_fraction (0.01)',
    );
    expect(over.status.error).toContain(`text field "text" is null at ${path}:4`);

    // A cap without skipping is refused at submit.
    const refused = await submit(job('out-invalid-refused', { maxInvalidFraction: 0.5 }));
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('dataset.max_invalid_fraction applies only with');
  });
}
