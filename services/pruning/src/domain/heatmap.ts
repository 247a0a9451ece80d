import type { BlockChoice, BlockDistances } from './angular-distance.js';

/** An RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

// A perceptually ordered dark-blue -> green -> yellow ramp (five stops, linear in between).
const ramp: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function colour(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (ramp.length - 1);
  const i = Math.min(ramp.length - 2, Math.floor(x));
  const f = x - i;
  const a = ramp[i] as [number, number, number];
  const b = ramp[i + 1] as [number, number, number];
  return [0, 1, 2].map((k) => Math.round((a[k] as number) + f * ((b[k] as number) - (a[k] as number)))) as [
    number,
    number,
    number,
  ];
}

/**
 * The distance matrix as a heatmap: one `cell`-pixel square per (start layer l, block size n), rows are
 * l (top = layer 0), columns are n = 1, 2, ...; small distances (cheap to remove) dark, large bright, cells
 * that were not measured light grey; the chosen block l*(n) of each column gets a white outline.
 */
export function distanceHeatmap(
  m: BlockDistances,
  best: readonly Pick<BlockChoice, 'blockSize' | 'startLayer'>[],
  cell = 24,
): RgbImage {
  const rows = m.layerCount;
  const cols = m.maxBlockSize;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of m.values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const width = cols * cell;
  const height = rows * cell;
  const pixels = new Uint8Array(width * height * 3);
  const chosen = new Set(best.map((b) => `${b.startLayer},${b.blockSize}`));
  for (let l = 0; l < rows; l++) {
    for (let n = 1; n <= cols; n++) {
      const v = m.values[l * cols + (n - 1)] as number;
      const rgb: [number, number, number] = Number.isFinite(v)
        ? colour(hi > lo ? (v - lo) / (hi - lo) : 0)
        : [225, 225, 225];
      const outline = chosen.has(`${l},${n}`);
      for (let y = 0; y < cell; y++) {
        for (let x = 0; x < cell; x++) {
          const edge = x < 2 || y < 2 || x >= cell - 2 || y >= cell - 2;
          const p = ((l * cell + y) * width + (n - 1) * cell + x) * 3;
          const grid = x < 1 || y < 1;
          const c = (outline && edge) || grid ? [255, 255, 255] : rgb;
          pixels[p] = c[0] as number;
          pixels[p + 1] = c[1] as number;
          pixels[p + 2] = c[2] as number;
        }
      }
    }
  }
  return { width, height, pixels };
}
