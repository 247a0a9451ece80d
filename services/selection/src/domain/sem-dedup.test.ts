import { createOrtGemmTransposed } from '@sift/inference';
import { normalizeRows, rowDot, seededRandom } from '@sift/numeric';
import { describe, expect, it } from 'vitest';
import type { ClusteredEmbeddings } from './clustered-embeddings.js';
import { type SemDedupComparison, type SemDedupKeep, semDedup, semDedupSimilarities } from './sem-dedup.js';

const rad = (deg: number) => (deg * Math.PI) / 180;
const at = (...degs: number[]) => new Float32Array(degs.flatMap((a) => [Math.cos(rad(a)), Math.sin(rad(a))]));

// One 2-d cluster around the x axis. p0, p1, p2 form a chain 5° apart (p0 and p2 are 10° apart); p3 and p4
// are 3° apart; p5 is alone. With eps = 0.006 two points are duplicates when closer than acos(0.994) ≈ 6.3°.
//   hardest order (farthest from the centroid first): p5 (40°), p0 (30°), p1 (25°), p2 (20°), p3 (3°), p4 (0°)
//   easiest order: p4, p3, p2, p1, p0, p5
const six: ClusteredEmbeddings = {
  embeddings: at(30, 25, 20, -3, 0, -40),
  dims: 2,
  labels: new Int32Array(6),
  centroids: at(0),
};
const cos = (deg: number) => Math.fround(Math.cos(rad(deg)));

async function run(keep: SemDedupKeep, comparison: SemDedupComparison) {
  return await semDedup(six, { eps: 0.006, sweepEps: [0.001, 0.006, 0.02], keep, comparison });
}

describe('semDedup on a hand-checkable 6-point cluster', () => {
  it('hardest + all-earlier (the reference) drops the whole chain behind p0, even via the dropped p1', async () => {
    const r = await run('hardest', 'all-earlier');
    expect(Array.from(r.rank)).toEqual([1, 2, 3, 4, 5, 0]);
    expect(Array.from(r.kept)).toEqual([1, 0, 0, 1, 0, 1]);
    expect(Array.from(r.duplicateOf)).toEqual([5, 0, 1, 2, 3, -1]);
    expect(r.similarity[1]).toBeCloseTo(cos(5), 6);
    expect(r.similarity[2]).toBeCloseTo(cos(5), 6);
    expect(r.similarity[4]).toBeCloseTo(cos(3), 6);
    expect(r.similarity[5]).toBe(Number.NEGATIVE_INFINITY);
    expect(r.removed).toBe(3);
  });

  it('hardest + kept-only keeps p2, whose only close earlier point p1 was itself dropped', async () => {
    const r = await run('hardest', 'kept-only');
    expect(Array.from(r.kept)).toEqual([1, 0, 1, 1, 0, 1]);
    // p2's nearest earlier kept point is p0, 10° away: below the threshold, so p2 survives.
    expect(r.duplicateOf[2]).toBe(0);
    expect(r.similarity[2]).toBeCloseTo(cos(10), 6);
    expect(r.removed).toBe(2);
  });

  it('easiest + all-earlier keeps the points closest to the centroid of each group', async () => {
    const r = await run('easiest', 'all-earlier');
    expect(Array.from(r.rank)).toEqual([4, 3, 2, 1, 0, 5]);
    expect(Array.from(r.kept)).toEqual([0, 0, 1, 0, 1, 1]);
    // p2's nearest earlier point is p4 (20°), not p3 (23°).
    expect(Array.from(r.duplicateOf)).toEqual([1, 2, 4, 4, -1, 3]);
  });

  it('easiest + kept-only keeps p0, 10° from the kept p2', async () => {
    const r = await run('easiest', 'kept-only');
    expect(Array.from(r.kept)).toEqual([1, 0, 1, 0, 1, 1]);
    expect(r.duplicateOf[0]).toBe(2);
  });

  it('reports the removed fraction for every swept eps', async () => {
    // eps 0.001: threshold acos(0.999) ≈ 2.6°, nothing is that close. eps 0.02: ≈ 11.5°, so p0–p2 (10°) counts.
    const fractions = async (keep: SemDedupKeep, comparison: SemDedupComparison) =>
      (await run(keep, comparison)).sweep.map((s) => s.removed);
    expect(await fractions('hardest', 'all-earlier')).toEqual([0, 3, 3]);
    expect(await fractions('hardest', 'kept-only')).toEqual([0, 2, 3]);
    expect(await fractions('easiest', 'all-earlier')).toEqual([0, 3, 3]);
    expect(await fractions('easiest', 'kept-only')).toEqual([0, 2, 3]);
    expect((await run('hardest', 'all-earlier')).sweep[1]).toEqual({ eps: 0.006, removed: 3, removedFraction: 0.5 });
  });

  it('reports progress per cluster and stops when its signal aborts', async () => {
    const ticks: [number, number][] = [];
    await semDedup(six, { eps: 0.02, onProgress: (done, total) => ticks.push([done, total]) });
    expect(ticks.at(-1)).toEqual([6, 6]);
    const controller = new AbortController();
    controller.abort(new Error('job cancelled'));
    await expect(semDedup(six, { eps: 0.02, signal: controller.signal })).rejects.toThrow('job cancelled');
  });

  it('rejects parameters out of range, naming them', async () => {
    await expect(semDedup(six, { eps: 0 })).rejects.toThrow(/^eps must be in \(0, 1\)/);
    await expect(semDedup(six, { eps: 0.1, sweepEps: [0.1, 1.5] })).rejects.toThrow(/^sweepEps\[1\]/);
    await expect(semDedup(six, { eps: 0.1, blockRows: 0 })).rejects.toThrow(/^blockRows/);
    await expect(semDedup({ ...six, labels: Int32Array.of(0, 0, 0, 0, 0, 1) }, { eps: 0.1 })).rejects.toThrow(
      /^labels\[5\] must be a cluster index in \[0, 1\)/,
    );
    try {
      await semDedup(six, { eps: 0.1, keep: 'newest' as SemDedupKeep });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ name: 'SiftError', kind: 'invalid_argument' });
    }
  });
});

/** 300 rows in 2 clusters: 100 random directions, each with 2 noisy copies (cos ≈ 0.98–0.995 to the base). */
function noisyCopies(): ClusteredEmbeddings {
  const dims = 8;
  const random = seededRandom(7);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const n = 300;
  const x = new Float32Array(n * dims);
  for (let b = 0; b < 100; b++) {
    const base = Array.from({ length: dims }, gauss);
    for (let c = 0; c < 3; c++) {
      for (let t = 0; t < dims; t++) x[(b * 3 + c) * dims + t] = (base[t] as number) + (c === 0 ? 0 : 0.08 * gauss());
    }
  }
  normalizeRows(x, dims);
  // Split by the sign of the first coordinate, with the normalised means as centroids.
  const labels = Int32Array.from({ length: n }, (_, i) => ((x[i * dims] as number) >= 0 ? 0 : 1));
  const centroids = new Float32Array(2 * dims);
  for (let i = 0; i < n; i++) {
    const o = (labels[i] as number) * dims;
    for (let t = 0; t < dims; t++) centroids[o + t] = (centroids[o + t] as number) + (x[i * dims + t] as number);
  }
  normalizeRows(centroids, dims);
  return { embeddings: x, dims, labels, centroids };
}

/** The O(|C|²) definition, in the order the result reports, with the same float32 rounding of each cosine. */
function bruteForce(input: ClusteredEmbeddings, rank: Int32Array, eps: number, comparison: SemDedupComparison) {
  const n = input.labels.length;
  const kept = new Uint8Array(n);
  const duplicateOf = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n).fill(Number.NEGATIVE_INFINITY);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (rank[a] as number) - (rank[b] as number));
  for (const j of order) {
    for (const i of order) {
      if (i === j) break;
      if (input.labels[i] !== input.labels[j] || (comparison === 'kept-only' && !kept[i])) continue;
      const s = Math.fround(rowDot(input.embeddings, i, input.embeddings, j, input.dims));
      if (s > (similarity[j] as number)) {
        similarity[j] = s;
        duplicateOf[j] = i;
      }
    }
    kept[j] = (similarity[j] as number) > 1 - eps ? 0 : 1;
  }
  return { kept, duplicateOf, similarity };
}

describe('semDedup blocked computation', () => {
  const data = noisyCopies();
  const cases: [SemDedupKeep, SemDedupComparison, number][] = [
    ['hardest', 'all-earlier', 16],
    ['hardest', 'kept-only', 16],
    ['easiest', 'kept-only', 7],
    ['random', 'all-earlier', 7],
    ['random', 'kept-only', 300],
  ];
  it.each(cases)('equals brute force (keep %s, %s, blocks of %i rows)', async (keep, comparison, blockRows) => {
    const r = await semDedup(data, { eps: 0.012, keep, comparison, seed: 3, blockRows });
    expect(r.removed).toBeGreaterThan(20);
    const expected = bruteForce(data, r.rank, 0.012, comparison);
    expect(Array.from(r.kept)).toEqual(Array.from(expected.kept));
    expect(Array.from(r.duplicateOf)).toEqual(Array.from(expected.duplicateOf));
    expect(Array.from(r.similarity)).toEqual(Array.from(expected.similarity));
  });

  it('sweeps kept-only exactly: each swept eps matches a run at that eps', async () => {
    const sweepEps = [0.005, 0.01, 0.02, 0.05];
    const r = await semDedup(data, { eps: 0.01, sweepEps, comparison: 'kept-only', blockRows: 16 });
    for (const point of r.sweep) {
      const alone = await semDedup(data, { eps: point.eps, comparison: 'kept-only', blockRows: 16 });
      expect(point.removed).toBe(alone.removed);
      expect(point.removedFraction).toBe(alone.removed / 300);
    }
    expect(new Set(r.sweep.map((s) => s.removed)).size).toBeGreaterThan(1);
  });

  it('all-earlier removes at least as much as kept-only at every eps', async () => {
    const sweepEps = [0.005, 0.01, 0.02, 0.05];
    const all = await semDedup(data, { eps: 0.01, sweepEps, comparison: 'all-earlier' });
    const keptOnly = await semDedup(data, { eps: 0.01, sweepEps, comparison: 'kept-only' });
    all.sweep.forEach((s, i) => {
      expect(s.removed).toBeGreaterThanOrEqual(keptOnly.sweep[i]?.removed as number);
    });
  });

  it('random keep order is fixed by the seed', async () => {
    const a = await semDedup(data, { eps: 0.012, keep: 'random', seed: 11 });
    const b = await semDedup(data, { eps: 0.012, keep: 'random', seed: 11 });
    const c = await semDedup(data, { eps: 0.012, keep: 'random', seed: 12 });
    expect(Array.from(a.rank)).toEqual(Array.from(b.rank));
    expect(Array.from(a.rank)).not.toEqual(Array.from(c.rank));
  });

  it('semDedupSimilarities gives the eps-free M_j that semDedup thresholds', async () => {
    const s = await semDedupSimilarities(data, { blockRows: 32 });
    const r = await semDedup(data, { eps: 0.012 });
    expect(Array.from(s.maxSimilarity)).toEqual(Array.from(r.similarity));
    expect(Array.from(r.kept)).toEqual(Array.from(s.maxSimilarity, (m) => (m > 1 - 0.012 ? 0 : 1)));
  });
});

describe('semDedup with ONNX Runtime computing the tiles', () => {
  it('makes the same decisions as with the TypeScript kernel', async () => {
    const data = noisyCopies();
    const gemm = await createOrtGemmTransposed();
    for (const comparison of ['all-earlier', 'kept-only'] as const) {
      const plain = await semDedup(data, { eps: 0.012, comparison, blockRows: 16 });
      const viaOrt = await semDedup(data, { eps: 0.012, comparison, blockRows: 16, product: gemm });
      expect(Array.from(viaOrt.kept)).toEqual(Array.from(plain.kept));
      expect(Array.from(viaOrt.duplicateOf)).toEqual(Array.from(plain.duplicateOf));
      expect(viaOrt.removed).toBeGreaterThan(0);
    }
  });
});
