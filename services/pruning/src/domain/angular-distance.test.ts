import { describe, expect, it } from 'vitest';
import {
  angularDistanceMatrix,
  bestBlock,
  bestBlocks,
  blockInfluence,
  blockInfluenceMatrix,
  distanceAt,
  type ResidualStates,
} from './angular-distance.js';

/** Unit 2-d vectors at the given angles (degrees), one row each. */
function atAngles(...degrees: number[]): Float32Array {
  return Float32Array.from(degrees.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
}

/**
 * Three layers, one sample: the stream's direction is 0° entering layer 0, then 90°, 90° and 180° (after the
 * last layer). Each layer may also scale the stream, which the angle ignores.
 */
const oneSample: ResidualStates = {
  states: [atAngles(0), atAngles(90).map((v) => v * 3), atAngles(90), atAngles(180)],
  rows: 1,
  dim: 2,
};

describe('angularDistanceMatrix', () => {
  it('is the angle between the streams divided by π, for every block with l + n <= L', () => {
    const m = angularDistanceMatrix(oneSample);
    expect(m.layerCount).toBe(3);
    expect(m.maxBlockSize).toBe(3);
    expect(distanceAt(m, 0, 1)).toBeCloseTo(0.5, 6); // 0° -> 90°
    expect(distanceAt(m, 1, 1)).toBeCloseTo(0, 6); // 90° -> 90°, only the length changed
    expect(distanceAt(m, 2, 1)).toBeCloseTo(0.5, 6);
    expect(distanceAt(m, 0, 2)).toBeCloseTo(0.5, 6);
    expect(distanceAt(m, 1, 2)).toBeCloseTo(0.5, 6);
    expect(distanceAt(m, 0, 3)).toBeCloseTo(1, 6); // opposite directions
  });

  it('leaves NaN where l + n > L, laid out as [l, n − 1]', () => {
    const m = angularDistanceMatrix(oneSample);
    expect(Array.from(m.values).map((v) => (Number.isNaN(v) ? 'NaN' : Number(v.toFixed(3))))).toEqual([
      0.5,
      0.5,
      1,
      0,
      0.5,
      'NaN',
      0.5,
      'NaN',
      'NaN',
    ]);
  });

  it('masks the blocks that contain the final layer when asked, as the contract reports them', () => {
    const m = angularDistanceMatrix(oneSample, { finalLayer: 'mask' });
    expect(distanceAt(m, 1, 1)).toBeCloseTo(0, 6);
    expect(distanceAt(m, 2, 1)).toBeNaN();
    expect(distanceAt(m, 1, 2)).toBeNaN();
    expect(distanceAt(m, 0, 3)).toBeNaN();
  });

  it('averages the angle over samples', () => {
    // Sample 1 turns by 60° in layer 0, sample 2 by 120°: mean (1/3 + 2/3) / 2 = 0.5.
    const m = angularDistanceMatrix({ states: [atAngles(0, 0), atAngles(60, 120)], rows: 2, dim: 2 });
    expect(distanceAt(m, 0, 1)).toBeCloseTo(0.5, 6);
  });

  it('stays finite when rounding pushes the cosine past ±1, and treats zero rows explicitly', () => {
    // In float64, v·v / (‖v‖‖v‖) = 1.0000000000000002 for this v; unclamped, arccos would give NaN.
    const v = Float32Array.from([0.01, 0.3, 0]);
    const m = angularDistanceMatrix({ states: [v, Float32Array.from(v)], rows: 1, dim: 3 });
    expect(distanceAt(m, 0, 1)).toBe(0);
    const zero = angularDistanceMatrix({
      states: [new Float32Array(2), new Float32Array(2), atAngles(0)],
      rows: 1,
      dim: 2,
    });
    expect(distanceAt(zero, 0, 1)).toBe(0); // both zero: same
    expect(distanceAt(zero, 1, 1)).toBeCloseTo(0.5, 6); // one zero: orthogonal
  });

  it('limits the block size and rejects a bad one or mismatched states', () => {
    const m = angularDistanceMatrix(oneSample, { maxBlockSize: 1 });
    expect(m.values.length).toBe(3);
    expect(() => angularDistanceMatrix(oneSample, { maxBlockSize: 4 })).toThrow(/maxBlockSize/);
    expect(() => angularDistanceMatrix({ states: [atAngles(0), atAngles(0, 1)], rows: 1, dim: 2 })).toThrow(
      /x\^1 holds 4 values/,
    );
    expect(() => angularDistanceMatrix({ states: [atAngles(0)], rows: 1, dim: 2 })).toThrowError(
      expect.objectContaining({ kind: 'invalid_argument' }),
    );
  });
});

describe('bestBlock', () => {
  // Four layers, one sample, turning by 40°, 10°, 20° and 5° (the last is the final layer).
  const fourLayers = angularDistanceMatrix({
    states: [atAngles(0), atAngles(40), atAngles(50), atAngles(70), atAngles(75)],
    rows: 1,
    dim: 2,
  });

  it('picks the start with the smallest distance for each block size', () => {
    expect(bestBlock(fourLayers, 1)).toEqual({ blockSize: 1, startLayer: 1, distance: expect.closeTo(10 / 180, 6) });
    expect(bestBlock(fourLayers, 2)).toEqual({ blockSize: 2, startLayer: 1, distance: expect.closeTo(30 / 180, 6) });
  });

  it('never chooses a block containing the final layer, even when it is the cheapest', () => {
    // Layer 3 (5°) alone is cheapest, and layers 2..3 (25°) beat 1..2 (30°), but both contain the final layer.
    expect(distanceAt(fourLayers, 3, 1)).toBeCloseTo(5 / 180, 6);
    expect(bestBlock(fourLayers, 1)?.startLayer).toBe(1);
    expect(bestBlock(fourLayers, 2)?.startLayer).toBe(1);
    expect(bestBlock(fourLayers, 3)).toEqual({ blockSize: 3, startLayer: 0, distance: expect.closeTo(70 / 180, 6) });
    expect(bestBlock(fourLayers, 4)).toBeUndefined();
  });

  it('lists one choice per block size that has a candidate, n ascending', () => {
    expect(bestBlocks(fourLayers).map((b) => [b.blockSize, b.startLayer])).toEqual([
      [1, 1],
      [2, 1],
      [3, 0],
    ]);
  });
});

describe('blockInfluence', () => {
  it('is 1 − the mean cosine over all tokens between consecutive layers', () => {
    // Two tokens: layer 0 turns them by 60° and 90° (cos 0.5 and 0): BI = 1 − 0.25. Layer 1 keeps both.
    const states: ResidualStates = { states: [atAngles(0, 0), atAngles(60, 90), atAngles(60, 90)], rows: 2, dim: 2 };
    const bi = blockInfluence(states);
    expect(Array.from(bi)).toEqual([expect.closeTo(0.75, 6), expect.closeTo(0, 6)]);
    expect(distanceAt(blockInfluenceMatrix(states), 0, 2)).toBeCloseTo(0.75, 6);
  });
});
