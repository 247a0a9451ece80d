import { describe, expect, it } from 'vitest';
import type { ClusteredEmbeddings } from './clustered-embeddings.js';
import { sslPrototypeScores, sslPrototypes } from './ssl-prototypes.js';

const rad = (deg: number) => (deg * Math.PI) / 180;
const at = (...degs: number[]) => new Float32Array(degs.flatMap((a) => [Math.cos(rad(a)), Math.sin(rad(a))]));

// Two clusters: around 0° (rows 0–2) and around 90° (rows 3–5). Angles to the own centroid:
//   row: 0    1    2    3    4    5
//   deg: 10   40   0    20   10   60     (rows 0 and 4 tie at 10°)
const data: ClusteredEmbeddings = {
  embeddings: at(10, 40, 0, 110, 80, 150),
  dims: 2,
  labels: Int32Array.of(0, 0, 0, 1, 1, 1),
  centroids: at(0, 90),
};

describe('sslPrototypes', () => {
  it('scores each row by cosine distance to its own centroid', () => {
    const s = sslPrototypeScores(data);
    [10, 40, 0, 20, 10, 60].forEach((deg, i) => {
      expect(s[i]).toBeCloseTo(1 - Math.cos(rad(deg)), 6);
    });
  });

  it('drops the most prototypical rows by default, across clusters', () => {
    const r = sslPrototypes(data, { keepCount: 3 });
    // Closest first: row 2 (0°), rows 4 and 0 (10°), then row 3 (20°): the three closest go.
    expect(Array.from(r.kept)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(r.keepCount).toBe(3);
  });

  it('keeps the earlier row of a tie at the cut', () => {
    // Two go: row 2, then one of rows 0 and 4 (both 10°); the higher index is dropped.
    const r = sslPrototypes(data, { keepCount: 4 });
    expect(r.scores[0]).toBe(r.scores[4]);
    expect(Array.from(r.kept)).toEqual([1, 1, 0, 1, 0, 1]);
  });

  it('drops the hardest rows when asked', () => {
    const r = sslPrototypes(data, { keepFraction: 0.5, drop: 'hardest' });
    // 60° (row 5), 40° (row 1), 20° (row 3) go.
    expect(Array.from(r.kept)).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('rounds a fraction to the nearest count', () => {
    expect(sslPrototypes(data, { keepFraction: 0.75 }).keepCount).toBe(5); // 4.5 rounds half up
    expect(sslPrototypes(data, { keepFraction: 0.7 }).keepCount).toBe(4); // 4.2
  });

  it('needs exactly one of keepFraction and keepCount', () => {
    expect(() => sslPrototypes(data, {})).toThrow(/^keepFraction or keepCount must be set/);
    expect(() => sslPrototypes(data, { keepFraction: 0.5, keepCount: 3 })).toThrow(/^keepFraction or keepCount/);
    expect(() => sslPrototypes(data, { keepCount: 7 })).toThrow(/^keepCount must be an integer in \[0, 6\]/);
    expect(() => sslPrototypes(data, { keepFraction: 0 })).toThrow(/^keepFraction must be in \(0, 1\]/);
  });
});
