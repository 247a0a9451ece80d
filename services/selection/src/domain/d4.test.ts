import { type KMeansResult, normalizeRows, seededRandom, sphericalKMeans } from '@sift/numeric';
import { describe, expect, it } from 'vitest';
import type { ClusteredEmbeddings } from './clustered-embeddings.js';
import { type ClusterFunction, d4 } from './d4.js';

/** 203 unit rows in 8-d: each run of 3 rows is a random direction and two noisy copies of it. */
async function corpus(): Promise<ClusteredEmbeddings> {
  const dims = 8;
  const n = 203;
  const random = seededRandom(21);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const x = new Float32Array(n * dims);
  let base: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) base = Array.from({ length: dims }, gauss);
    for (let t = 0; t < dims; t++) x[i * dims + t] = (base[t] as number) + (i % 3 === 0 ? 0 : 0.1 * gauss());
  }
  normalizeRows(x, dims);
  const km = await sphericalKMeans(x, dims, { k: 4, seed: 1 });
  return { embeddings: x, dims, labels: km.labels, centroids: km.centroids };
}

const kmeans: ClusterFunction = (x, d, k, seed) => sphericalKMeans(x, d, { k, seed });

describe('d4', () => {
  it('ends at exactly round(R·N) rows after SemDeDup to round(R_dedup·N)', async () => {
    const input = await corpus();
    const calls: { rows: number; k: number; seed: number }[] = [];
    const spy: ClusterFunction = (x, d, k, seed) => {
      calls.push({ rows: x.length / d, k, seed });
      return kmeans(x, d, k, seed);
    };
    const r = await d4(input, { dedupRatio: 0.75, keepRatio: 0.3, reclusterK: 5, seed: 9 }, spy);

    // 0.75 · 203 = 152.25 → 152 survive SemDeDup; 0.3 · 203 = 60.9 → 61 at the end.
    expect(r.dedupKeepCount).toBe(152);
    expect(r.keepCount).toBe(61);
    expect(r.kept.reduce((a, b) => a + b, 0)).toBe(61);
    expect(r.stage.filter((s) => s === 'sem-dedup')).toHaveLength(51);
    expect(r.reason.filter((s) => s === 'semantic-duplicate')).toHaveLength(51);
    expect(r.reason.filter((s) => s === 'prototypical')).toHaveLength(152 - 61);
    expect(calls).toEqual([{ rows: 152, k: 5, seed: 9 }]);
    expect(r.survivors).toHaveLength(152);

    r.kept.forEach((kept, i) => {
      expect(r.reason[i] === 'kept').toBe(kept === 1);
      expect(r.stage[i]).toBe(r.reason[i] === 'semantic-duplicate' ? 'sem-dedup' : 'ssl-prototypes');
    });
  });

  it('removes the rows of highest max-similarity in the SemDeDup phase and records what they duplicate', async () => {
    const input = await corpus();
    const r = await d4(input, { keepRatio: 0.5, reclusterK: 3 }, kmeans);
    r.stage.forEach((stage, i) => {
      const m = r.maxSimilarity[i] as number;
      if (stage === 'sem-dedup') {
        expect(m).toBeGreaterThanOrEqual(r.dedupCutoff);
        expect(r.duplicateOf[i]).toBeGreaterThanOrEqual(0);
        expect(input.labels[r.duplicateOf[i] as number]).toBe(input.labels[i]);
        expect(r.prototypeScore[i]).toBeNaN();
      } else {
        expect(m).toBeLessThanOrEqual(r.dedupCutoff);
        expect(r.duplicateOf[i]).toBe(-1);
        expect(Number.isFinite(r.prototypeScore[i] as number)).toBe(true);
      }
    });
    // Most-prototypical drop: every kept row is at least as far from its new centroid as every dropped one.
    const kept = r.survivors.filter((i) => r.kept[i] === 1).map((i) => r.prototypeScore[i] as number);
    const dropped = r.survivors.filter((i) => r.kept[i] === 0).map((i) => r.prototypeScore[i] as number);
    expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
  });

  it('marks prototype-phase drops too-hard when the hardest rows go', async () => {
    const r = await d4(await corpus(), { keepRatio: 0.5, reclusterK: 3, prototypeDrop: 'hardest' }, kmeans);
    expect(r.reason.filter((s) => s === 'too-hard')).toHaveLength(152 - 102);
    expect(r.reason).not.toContain('prototypical');
  });

  it('checks its ratios and k before clustering anything', async () => {
    const input = await corpus();
    const never: ClusterFunction = () => Promise.reject(new Error('must not be called')) as Promise<KMeansResult>;
    await expect(d4(input, { dedupRatio: 0.5, keepRatio: 0.6, reclusterK: 3 }, never)).rejects.toThrow(
      /^keepRatio \(0.6\) must not exceed dedupRatio \(0.5\)/,
    );
    await expect(d4(input, { keepRatio: 0.5, reclusterK: 153 }, never)).rejects.toThrow(
      /^reclusterK must be an integer in \[1, 152\]/,
    );
    await expect(d4(input, { dedupRatio: 0.01, keepRatio: 0.01, reclusterK: 1 }, never)).rejects.toThrow(
      /^dedupRatio \(0.01\) asks SemDeDup to keep 2 of 203 rows, but .* at least 4 remain/,
    );
  });
});
