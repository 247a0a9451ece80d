import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonV1, pruningV1 } from '@sift/contracts';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { call, watch } from '../src/pruning-calls.js';
import { calibration, evaluation, type PruningSuite } from '../src/pruning-suite.js';

/**
 * A decoder exported without its hidden-state outputs: layer boundaries found by graph analysis.
 *
 * Each export registers one test in the describe block that calls it, against that block's platform
 * (pruning.test.ts calls them in order).
 */

/** Analysis and pruning of a model without hidden-state outputs (byte-gpt-plain), found by graph analysis. */
export function prunesGraphAnalysedModel(suite: PruningSuite): void {
  it('finds the residual stream by graph analysis when the model does not output it, and prunes that model', async () => {
    const { dataDir, modelsDir, client } = suite;
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
}
