import { describe, expect, it } from 'vitest';
import type { ClusteredEmbeddings } from './clustered-embeddings.js';
import { clusterPlacement, corruptionShift, scipDropReason, scipPrune } from './scip.js';

const rad = (deg: number) => (deg * Math.PI) / 180;
const at = (...degs: number[]) => new Float32Array(degs.flatMap((a) => [Math.cos(rad(a)), Math.sin(rad(a))]));
const dist = (deg: number) => 1 - Math.cos(rad(deg));

// Three 2-d clusters; each row's angle to its centroid in brackets.
//   cluster 0, centroid 0°, 5 rows:   r0 0° [0], r1 10° [10], r3 −30° [30], r5 20° [20], r7 −10° [10]
//   cluster 1, centroid 180°, 2 rows: r2 175° [5], r8 185° [5]
//   cluster 2, centroid 90°, 3 rows:  r4 115° [25], r6 90° [0], r9 85° [5]
// Smallest first: cluster 1 (2), cluster 2 (3), cluster 0 (5).
// Farthest first overall: r3 (30), r4 (25), r5 (20), r7 and r1 (10, higher index first), then the 5s and 0s.
const toy: ClusteredEmbeddings = {
  embeddings: at(0, 10, 175, -30, 115, 20, 90, -10, 185, 85),
  dims: 2,
  labels: Int32Array.of(0, 0, 1, 0, 2, 0, 2, 0, 1, 2),
  centroids: at(0, 180, 90),
};
const reasons = (r: ReturnType<typeof scipPrune>) => Array.from(r.kept, (_, i) => scipDropReason(r, i) ?? '-');

describe('scipPrune on a hand-checkable 3-cluster toy', () => {
  it('splits B = 4 into the smallest cluster (2 rows) and the 2 farthest of the rest', () => {
    const r = scipPrune(toy, { pruneFraction: 0.4, smallClusterShare: 0.5 });
    expect(r).toMatchObject({ budget: 4, smallClusterBudget: 2, farBudget: 2, partialCluster: -1 });
    expect(Array.from(r.droppedClusters)).toEqual([1]);
    expect(Array.from(r.kept)).toEqual([1, 1, 0, 0, 0, 1, 1, 1, 0, 1]);
    expect(reasons(r)).toEqual([
      '-',
      '-',
      'small-cluster',
      'far-from-centroid',
      'far-from-centroid',
      '-',
      '-',
      '-',
      'small-cluster',
      '-',
    ]);
  });

  it('reports each row’s distance to its centroid and its cluster size', () => {
    const r = scipPrune(toy, { pruneFraction: 0.4 });
    const degrees = [0, 10, 5, 30, 25, 20, 0, 10, 5, 5];
    for (const [i, deg] of degrees.entries()) expect(r.score[i]).toBeCloseTo(dist(deg), 6);
    expect(Array.from(r.clusterSize)).toEqual([5, 5, 2, 5, 3, 5, 3, 5, 2, 3]);
    expect(Array.from(r.sizes)).toEqual([5, 2, 3]);
  });

  it('drops the farthest rows of a cluster the small-cluster share only partly covers', () => {
    // B = 5, 4 of them small-cluster: all of cluster 1, then 2 of cluster 2's 3 (r4 at 25°, r9 at 5°);
    // the 1 far-from-centroid row is r3 (30°).
    const r = scipPrune(toy, { pruneFraction: 0.5, smallClusterShare: 0.8 });
    expect(r).toMatchObject({ budget: 5, smallClusterBudget: 4, farBudget: 1, partialCluster: 2 });
    expect(Array.from(r.droppedClusters)).toEqual([1]);
    expect(reasons(r)).toEqual([
      '-',
      '-',
      'small-cluster',
      'far-from-centroid',
      'small-cluster',
      '-',
      '-',
      '-',
      'small-cluster',
      'small-cluster',
    ]);
  });

  it('with no small-cluster share drops by distance alone, the higher index first on ties', () => {
    // B = 4: r3, r4, r5, then r7 rather than r1 (both 10°); B = 5 takes r1 as well.
    const r4 = scipPrune(toy, { pruneFraction: 0.4, smallClusterShare: 0 });
    expect(Array.from(r4.kept)).toEqual([1, 1, 1, 0, 0, 0, 1, 0, 1, 1]);
    expect(r4.reason.every((code, i) => code === (r4.kept[i] === 1 ? 0 : 2))).toBe(true);
    const r5 = scipPrune(toy, { pruneFraction: 0.5, smallClusterShare: 0 });
    expect(Array.from(r5.kept)).toEqual([1, 0, 1, 0, 0, 0, 1, 0, 1, 1]);
  });

  it('takes equal-sized clusters by lower index and skips empty ones', () => {
    const four: ClusteredEmbeddings = {
      embeddings: at(0, 90, 180, 185),
      dims: 2,
      labels: Int32Array.of(2, 1, 3, 3),
      centroids: at(45, 90, 0, 180),
    };
    // Cluster 0 is empty; clusters 1 and 2 hold one row each: cluster 1 (row 1) goes first.
    const r = scipPrune(four, { pruneFraction: 0.25, smallClusterShare: 1 });
    expect(Array.from(r.kept)).toEqual([1, 0, 1, 1]);
    expect(Array.from(r.droppedClusters)).toEqual([1]);
  });

  it('drops nothing for a zero fraction', () => {
    const r = scipPrune(toy, { pruneFraction: 0 });
    expect(r.budget).toBe(0);
    expect(r.kept.every((k) => k === 1)).toBe(true);
  });

  it('never drops every row for a fraction below 1, however it rounds', () => {
    // 0.99 of 10 rows rounds to 10; the budget stops at 9.
    const r = scipPrune(toy, { pruneFraction: 0.99 });
    expect(r.budget).toBe(9);
    expect(r.kept.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('rejects parameters out of range, naming them', () => {
    expect(() => scipPrune(toy, { pruneFraction: 1 })).toThrow(/^pruneFraction must be in \[0, 1\)/);
    expect(() => scipPrune(toy, { pruneFraction: -0.1 })).toThrow(/^pruneFraction/);
    expect(() => scipPrune(toy, { pruneFraction: 0.2, smallClusterShare: 1.5 })).toThrow(
      /^smallClusterShare must be in \[0, 1\]/,
    );
    expect(() => scipPrune({ ...toy, labels: new Int32Array(3) }, { pruneFraction: 0.2 })).toThrow(/^labels/);
  });
});

describe('clusterPlacement', () => {
  it('gives each row its cluster size and centroid distance, with sizes from another clustering', () => {
    const p = clusterPlacement(toy);
    expect(Array.from(p.clusterSize)).toEqual([5, 5, 2, 5, 3, 5, 3, 5, 2, 3]);
    expect(p.centroidDistance[3]).toBeCloseTo(dist(30), 6);
    // Two corrupted rows assigned to clusters 2 and 0 of the toy clustering report the toy's sizes.
    const corrupted: ClusteredEmbeddings = { ...toy, embeddings: at(120, 40), labels: Int32Array.of(2, 0) };
    const q = clusterPlacement(corrupted, [5, 2, 3]);
    expect(Array.from(q.clusterSize)).toEqual([3, 5]);
    expect(q.centroidDistance[0]).toBeCloseTo(dist(30), 6);
    expect(q.centroidDistance[1]).toBeCloseTo(dist(40), 6);
    expect(() => clusterPlacement(corrupted, [5, 2])).toThrow(/^sizes has 2 entries for 3 clusters/);
  });
});

describe('corruptionShift', () => {
  // Pair 0 moves to a smaller cluster and farther out; pair 1 stays in size and moves closer; pair 2 moves to
  // a larger cluster at the same distance.
  const original = { clusterSize: [10, 4, 6], centroidDistance: [0.1, 0.2, 0.3] };
  const corrupted = { clusterSize: [2, 4, 8], centroidDistance: [0.4, 0.1, 0.3] };

  it('summarises the mean deltas and the shares that moved smaller and farther', () => {
    const r = corruptionShift(original, corrupted);
    expect(r.pairs).toBe(3);
    expect(r.meanOriginalClusterSize).toBeCloseTo(20 / 3, 12);
    expect(r.meanCorruptedClusterSize).toBeCloseTo(14 / 3, 12);
    expect(r.meanClusterSizeDelta).toBeCloseTo(-2, 12);
    expect(r.meanDistanceDelta).toBeCloseTo(0.2 / 3, 12);
    expect(r.smallerClusterShare).toBeCloseTo(1 / 3, 12);
    expect(r.fartherShare).toBeCloseTo(1 / 3, 12);
    expect(r.byGroup).toEqual({});
  });

  it('splits the summary by group', () => {
    const r = corruptionShift(original, corrupted, ['syntax', 'content', 'syntax']);
    expect(Object.keys(r.byGroup)).toEqual(['content', 'syntax']);
    expect(r.byGroup.syntax).toMatchObject({ pairs: 2, meanClusterSizeDelta: -3, smallerClusterShare: 0.5 });
    expect(r.byGroup.syntax?.meanDistanceDelta).toBeCloseTo(0.15, 12);
    expect(r.byGroup.content).toMatchObject({
      pairs: 1,
      meanClusterSizeDelta: 0,
      smallerClusterShare: 0,
      fartherShare: 0,
    });
    expect(r.byGroup.content?.meanDistanceDelta).toBeCloseTo(-0.1, 12);
  });

  it('gives NaN means for no pairs and rejects columns of different lengths', () => {
    const none = corruptionShift({ clusterSize: [], centroidDistance: [] }, { clusterSize: [], centroidDistance: [] });
    expect(none.pairs).toBe(0);
    expect(none.meanClusterSizeDelta).toBeNaN();
    expect(() => corruptionShift(original, { ...corrupted, centroidDistance: [0.1] })).toThrow(
      /^corrupted.centroidDistance has 1 entries for 3 pairs/,
    );
  });
});
