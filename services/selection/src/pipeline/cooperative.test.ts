import { describe, expect, it } from 'vitest';
import {
  exactDedup,
  exactDedupSteps,
  minHashDedup,
  minHashDedupSteps,
  qualityFilters,
  scoreDocuments,
  scoreDocumentsSteps,
} from '../domain/index.js';
import { runCooperatively } from './cooperative.js';

/** `n` documents of 60 random words; every 10th repeats the one before it. */
function corpus(n: number): string[] {
  let seed = 11;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const word = () =>
    Array.from(
      { length: 3 + Math.floor(rand() * 6) },
      () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(rand() * 26)],
    ).join('');
  const docs: string[] = [];
  for (let i = 0; i < n; i++)
    docs.push(i % 10 === 9 ? (docs[i - 1] as string) : Array.from({ length: 60 }, word).join(' '));
  return docs;
}

describe('runCooperatively', () => {
  it('gives the result of the uninterrupted passes, reporting progress on the way', async () => {
    const texts = corpus(5000);
    const seen: number[] = [];
    const r = await runCooperatively(minHashDedupSteps(texts, { threshold: 0.8 }), (done, total) => {
      expect(total).toBe(5000);
      seen.push(done);
    });
    const direct = minHashDedup(texts, { threshold: 0.8 });
    expect(Array.from(r.kept)).toEqual(Array.from(direct.kept));
    expect(Array.from(r.duplicateOf)).toEqual(Array.from(direct.duplicateOf));
    expect(r.removed).toBe(500);
    expect(seen).toEqual(Array.from({ length: 39 }, (_, i) => (i + 1) * 128));
    const exact = await runCooperatively(exactDedupSteps(texts), () => {});
    expect(Array.from(exact.kept)).toEqual(Array.from(exactDedup(texts).kept));
    const filters = qualityFilters();
    const weights = filters.map((_, i) => i + 1);
    const scored = await runCooperatively(scoreDocumentsSteps(texts, weights, filters, 0.5), () => {});
    expect(Array.from(scored.docScores)).toEqual(Array.from(scoreDocuments(texts, weights, filters, 0.5).docScores));
  });

  it('lets timers run while a long MinHash pass computes', async () => {
    const texts = corpus(30_000);
    let timerFired = false;
    let reportsAfterTimer = 0;
    setTimeout(() => {
      timerFired = true;
    }, 0);
    await runCooperatively(minHashDedupSteps(texts), () => {
      if (timerFired) reportsAfterTimer++;
    });
    // Run in one go, the pass would hold the loop to its end: the timer would fire only after the last report.
    expect(timerFired).toBe(true);
    expect(reportsAfterTimer).toBeGreaterThan(0);
  });

  it('stops mid-pass when the progress callback throws (a cancelled job)', async () => {
    let calls = 0;
    const run = runCooperatively(minHashDedupSteps(corpus(5000)), () => {
      calls++;
      if (calls === 2) throw new Error('cancelled by a client');
    });
    await expect(run).rejects.toThrow('cancelled by a client');
    expect(calls).toBe(2);
  });
});
