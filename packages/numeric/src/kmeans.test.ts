import { describe, expect, it } from 'vitest';
import { type AssignKernel, assignNearest, sphericalKMeans } from './kmeans.js';
import { normalizeRows } from './vectors.js';

// Six 2-d points in two obvious directions: three near 0 degrees, three near 90 degrees.
const deg = (a: number) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)];
const six = new Float32Array([...deg(-5), ...deg(0), ...deg(5), ...deg(85), ...deg(90), ...deg(95)]);

describe('sphericalKMeans', () => {
  it('separates two directions and puts each centroid on the mean direction', async () => {
    const r = await sphericalKMeans(six, 2, { k: 2, seed: 1 });
    const [a, b] = [r.labels[0], r.labels[3]];
    expect(Array.from(r.labels)).toEqual([a, a, a, b, b, b]);
    expect(a).not.toBe(b);
    const ca = Array.from(r.centroids.subarray((a as number) * 2, (a as number) * 2 + 2));
    expect(ca[0]).toBeCloseTo(1, 6);
    expect(ca[1]).toBeCloseTo(0, 6);
    // Each point is 0 or 5 degrees from its centroid: mean cosine = (1 + 2 cos 5°) / 3.
    expect(r.objective).toBeCloseTo((1 + 2 * Math.cos((5 * Math.PI) / 180)) / 3, 6);
  });

  it('reports every iteration, and stops at the next one when its signal aborts mid-run', async () => {
    const x = normalizeRows(
      Float32Array.from({ length: 300 * 4 }, (_, i) => (Math.sin(i * 78.233) * 43758.5453) % 1),
      4,
    );
    const all: number[] = [];
    const r = await sphericalKMeans(x, 4, { k: 6, seed: 3, tolerance: 0, onIteration: (it) => all.push(it) });
    expect(r.iterations).toBeGreaterThan(2);
    expect(all).toEqual(Array.from({ length: r.iterations }, (_, i) => i + 1));
    const controller = new AbortController();
    const seen: number[] = [];
    const run = sphericalKMeans(x, 4, {
      k: 6,
      seed: 3,
      tolerance: 0,
      signal: controller.signal,
      onIteration: (it) => {
        seen.push(it);
        if (it === 2) controller.abort(new Error('job cancelled'));
      },
    });
    await expect(run).rejects.toThrow('job cancelled');
    expect(seen).toEqual([1, 2]);
  });

  it('seeds k-means++ in proportion to the squared Euclidean distance, 2 (1 − cos) for unit rows', async () => {
    // A, then B at 1 − cos = 0.1 from A and C at 0.2 on the other side: after A, C must be drawn twice as
    // often as B (squaring 1 − cos would make it four times).
    const angle = (oneMinusCos: number) => Math.acos(1 - oneMinusCos);
    const points = [0, angle(0.1), -angle(0.2)];
    const x = new Float32Array(points.flatMap((a) => [Math.cos(a), Math.sin(a)]));
    const which = (c: Float32Array) => points.findIndex((a) => Math.abs(Math.cos(a) - (c[0] as number)) < 1e-6);
    const after = [0, 0, 0];
    for (let seed = 0; seed < 3000; seed++) {
      const seeds: number[] = [];
      const spy: AssignKernel = (rows, n, d, centroids, k) => {
        if (k === 1) seeds.push(which(centroids));
        return assignNearest(rows, n, d, centroids, k);
      };
      await sphericalKMeans(x, 2, { k: 2, seed, maxIterations: 1, assign: spy });
      if (seeds[0] === 0) after[seeds[1] as number] = (after[seeds[1] as number] as number) + 1;
    }
    expect(after[0]).toBe(0);
    const ratio = (after[2] as number) / (after[1] as number);
    expect(ratio).toBeGreaterThan(1.6);
    expect(ratio).toBeLessThan(2.5);
  });

  it('is deterministic for a seed', async () => {
    const x = normalizeRows(
      Float32Array.from({ length: 400 * 8 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1),
      8,
    );
    const r1 = await sphericalKMeans(x, 8, { k: 5, seed: 42 });
    const r2 = await sphericalKMeans(x, 8, { k: 5, seed: 42 });
    expect(Array.from(r1.labels)).toEqual(Array.from(r2.labels));
    expect(r1.objective).toBe(r2.objective);
  });

  it('fits on a sample and still assigns every row', async () => {
    // Any 4 of the 6 points include both directions, so the fitted centroids separate them and the
    // final pass assigns the 2 unseen points correctly.
    const r = await sphericalKMeans(six, 2, { k: 2, seed: 3, sampleSize: 4 });
    expect(r.labels).toHaveLength(6);
    expect(Array.from(r.labels)).toEqual([
      r.labels[0],
      r.labels[0],
      r.labels[0],
      r.labels[3],
      r.labels[3],
      r.labels[3],
    ]);
    expect(r.labels[0]).not.toBe(r.labels[3]);
  });

  it('mini-batch variant reaches the same two clusters', async () => {
    const r = await sphericalKMeans(six, 2, { k: 2, seed: 1, miniBatchSize: 4, maxIterations: 30 });
    expect(r.labels[0]).toBe(r.labels[2]);
    expect(r.labels[3]).toBe(r.labels[5]);
    expect(r.labels[0]).not.toBe(r.labels[3]);
  });

  it('rejects k outside [1, rows]', async () => {
    await expect(sphericalKMeans(six, 2, { k: 7 })).rejects.toThrow('k must be an integer in [1, 6]');
  });
});
