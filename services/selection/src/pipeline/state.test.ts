import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decisionOf } from './decisions.js';
import { drop, keptScoreOf, loadSnapshot, type PipelineState, saveSnapshot, scoreKept } from './state.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freshState(n: number): PipelineState {
  const ids = Array.from({ length: n }, (_, i) => `r${i}`);
  return { ids, texts: ids, alive: new Uint8Array(n).fill(1), drops: new Map(), stageFacts: [] };
}

describe('scores of kept records', () => {
  it('keeps the last scoring stage’s score, ignores dropped records and non-finite scores', () => {
    const state = freshState(4);
    drop(state, 3, { stage: 'quality', reason: 'low-quality', score: 0.1 });
    scoreKept(state, 0, 'lengths', 120);
    scoreKept(state, 1, 'lengths', 80);
    scoreKept(state, 0, 'quality', 0.9);
    scoreKept(state, 2, 'dedup', Number.NEGATIVE_INFINITY);
    scoreKept(state, 3, 'quality', 0.5);
    expect(keptScoreOf(state, 0)).toEqual({ stage: 'quality', score: 0.9 });
    expect(keptScoreOf(state, 1)).toEqual({ stage: 'lengths', score: 80 });
    expect(keptScoreOf(state, 2)).toBeUndefined();
    expect(keptScoreOf(state, 3)).toBeUndefined();
  });

  it('survive a snapshot and reach the decisions, next to the dropping stage’s score of dropped records', async () => {
    const state = freshState(3);
    scoreKept(state, 0, 'lengths', 120);
    scoreKept(state, 1, 'quality', 0.25);
    drop(state, 2, { stage: 'quality', reason: 'low-quality', score: 0.125 });
    state.stageFacts.push({ summary: { stage: 'quality' } });
    await saveSnapshot(dir, 1, state, false);
    const restored = await loadSnapshot(dir, 1, state.ids, state.texts);
    expect([0, 1, 2].map((i) => decisionOf(restored, i))).toEqual([
      expect.objectContaining({ recordId: 'r0', kept: true, stage: 'quality', score: 120, scoreStage: 'lengths' }),
      expect.objectContaining({ recordId: 'r1', kept: true, stage: 'quality', score: 0.25, scoreStage: 'quality' }),
      expect.objectContaining({ recordId: 'r2', kept: false, stage: 'quality', score: 0.125, scoreStage: 'quality' }),
    ]);
  });

  it('refuses a saved stage whose files were cut short, naming the file, instead of running on shifted data', async () => {
    const state = freshState(3);
    state.embeddings = { vectors: new Float32Array([1, 0, 0, 1, 0.6, 0.8]), dims: 2, model: 'm@1' };
    state.clustering = {
      k: 1,
      labels: new Int32Array(3),
      centroids: new Float32Array([1, 0]),
      similarity: new Float32Array([1, 0, 0.6]),
    };
    await saveSnapshot(dir, 2, state, true);
    await expect(loadSnapshot(dir, 2, state.ids, state.texts)).resolves.toMatchObject({ clustering: { k: 1 } });
    truncateSync(join(dir, 'embeddings.f32'), 12);
    await expect(loadSnapshot(dir, 2, state.ids, state.texts)).rejects.toMatchObject({
      kind: 'failed_precondition',
      message: `the saved stage file ${join(dir, 'embeddings.f32')} is damaged (3 values where the job needs 6); submit the job again without resume_job_id`,
    });
    writeFileSync(join(dir, 'stage-2.json'), '{"alive": "AQ');
    await expect(loadSnapshot(dir, 2, state.ids, state.texts)).rejects.toThrow(
      `${join(dir, 'stage-2.json')} is damaged`,
    );
  });
});
