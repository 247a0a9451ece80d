import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, waitUntil } from '@sift/launcher';
import { expect, it } from 'vitest';
import { markdownSentences } from '../../../models/builders/markdown-prose.js';
import { grpcJsBuild, grpcJsSources } from '../src/datasets.js';
import type { SelectionSuite } from '../src/selection-suite.js';

/**
 * Pruning a code corpus by file length and SCIP, and filtering prose by text quality (byte-gpt perplexity).
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (selection.test.ts calls them in order).
 */

/** Long-file pruning and SCIP over a code corpus, with the corruption report. */
export function prunesCodeByLengthAndScip(suite: SelectionSuite): void {
  it('prunes a code corpus by length and by SCIP, reporting how corrupted files move in embedding space', async () => {
    const { dataDir, submit, job } = suite;
    // Real source files: the JavaScript of an installed npm package, one record per file.
    const root = grpcJsBuild;
    const dataset = join(dataDir, 'code.jsonl');
    writeFileSync(
      dataset,
      grpcJsSources()
        .map((f) => JSON.stringify(f))
        .join('\n'),
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
}

/** Text-quality filtering with the byte-gpt perplexity-weighted filters. */
export function keepsQualityFilteredDocuments(suite: SelectionSuite): void {
  it('keeps the documents whose lines pass the perplexity-weighted quality filters (byte-gpt)', async () => {
    const { dataDir, submit, job } = suite;
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
}
