import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bus } from '@sift/bus';
import { waitUntil } from '@sift/launcher';
import { openMetricsStore } from '@sift/metrics';
import { expect, it } from 'vitest';
import { decisionsIn, type SelectionSuite } from '../src/selection-suite.js';

/**
 * What the metrics consumer stored of the selection jobs: their decisions in ClickHouse.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (selection.test.ts calls them in order).
 */

/**
 * Every job's decisions in ClickHouse; counts the jobs of all the tests before it and stops the platform, so it
 * runs last.
 */
export function landsDecisionsInClickHouse(suite: SelectionSuite): void {
  it('lands every decision in ClickHouse selection_decisions', async () => {
    const { platform, dataDir, stop } = suite;
    const bus = await Bus.connect(platform.natsUrl, 'e2e-observer');
    await waitUntil(async () => {
      const lag = await bus.consumerLag('SIFT_EVENTS', 'metrics-selection-decisions');
      return lag.pending === 0 && lag.ackPending === 0;
    }, 30_000);
    await bus.close();
    await stop();
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
      // crawl; and the 15 records, 3 of them invalid, of the invalid-records job.
      expect(rows.slice(-5)).toEqual([264, 6000, 7500, 7500, 30_000]);
      expect(rows).toEqual(expect.arrayContaining([40, 5, 42, 66, 66, 15]));

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
      expect(stored.get(jobOf('out-invalid-skipped'))).toEqual({ kept: 12, invalid_record: 3 });
      expect(stored.has(jobOf('out-invalid-failed'))).toBe(false);
      // Each skipped record's row says where it is and why.
      const details = await store.query({
        query: `SELECT record_id, detail FROM selection_decisions WHERE job_id = {job:String} AND detail != '' ORDER BY record_id`,
        query_params: { job: jobOf('out-invalid-skipped') },
        format: 'JSONEachRow',
      });
      expect((await details.json<{ record_id: string; detail: string }>()).map((r) => r.record_id)).toEqual([
        '#11',
        'page-missing',
        'page-null',
      ]);
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
}
