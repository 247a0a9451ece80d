import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonV1, pruningV1 } from '@sift/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAnalysisReport, writePruningReport } from './analysis-report.js';

const dir = mkdtempSync(join(tmpdir(), 'sift-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** A job folder, as the worker's job store provides one. */
const folder = (name: string) => {
  mkdirSync(join(dir, name));
  return join(dir, name);
};

const metrics = (layerCount: number, bitsPerByte: number): pruningV1.ModelMetrics => ({
  bitsPerByte,
  perplexity: 2 ** bitsPerByte,
  latencyMsP50: 10 * layerCount,
  latencyMsP95: 11 * layerCount,
  fileSizeBytes: 1000 * layerCount,
  parameterCount: 100 * layerCount,
  layerCount,
});

// 4 layers, n = 1..2: distances[l][n-1]; the final layer is never removable (NaN).
const values = Float32Array.of(0.3, 0.4, 0.1, 0.2, 0.15, Number.NaN, Number.NaN, Number.NaN);
const distances = { layerCount: 4, maxBlockSize: 2, values };
const best = [
  { blockSize: 1, startLayer: 1, distance: 0.1 },
  { blockSize: 2, startLayer: 1, distance: 0.2 },
];

describe('pruning reports', () => {
  it('writes the analysis heatmap, JSON and Markdown with the loss table when blocks were measured', async () => {
    const result = pruningV1.AnalysisResult.fromPartial({
      model: { name: 'lm', version: '1' },
      layerCount: 4,
      metric: pruningV1.DistanceMetric.DISTANCE_METRIC_ANGULAR_LAST_TOKEN,
      distances: { dims: [4, 2], dtype: commonV1.DataType.DATA_TYPE_FLOAT32, data: Buffer.from(values.buffer) },
      bestBlocks: best,
      samples: 8,
      tokens: 512,
      residualStreamSource: 'hidden-state outputs',
      sourceMetrics: metrics(4, 2),
      blockEvaluations: [
        { block: best[0], unhealed: metrics(3, 2.5), healed: metrics(3, 2.25) },
        { block: best[1], unhealed: metrics(2, 3.5), healed: metrics(2, 3) },
      ],
    });
    const out = await writeAnalysisReport(folder('analysis'), result, distances);
    const md = readFileSync(out.markdownReportPath, 'utf8');
    expect(md).toContain('| layers removed | block | bits/byte | Δ | healed bits/byte | Δ healed | p50 ms | bytes |');
    expect(md).toContain('| 0 | — | 2.0000 | +0.0000 | 2.0000 | +0.0000 | 40.00 | 4000 |');
    expect(md).toContain('| 1 | 1..1 | 2.5000 | +0.5000 | 2.2500 | +0.2500 | 30.00 | 3000 |');
    expect(md).toContain('| 2 | 1..2 | 3.5000 | +1.5000 | 3.0000 | +1.0000 | 20.00 | 2000 |');
    expect(readFileSync(out.heatmapPath).subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(JSON.parse(readFileSync(out.jsonReportPath, 'utf8')).distanceMatrix[1]).toEqual([
      expect.closeTo(0.1, 6),
      expect.closeTo(0.2, 6),
    ]);
  });

  it('reports a block the graph would not let go of in its row, and keeps the other rows', async () => {
    const result = pruningV1.AnalysisResult.fromPartial({
      model: { name: 'lm', version: '1' },
      layerCount: 4,
      bestBlocks: best,
      sourceMetrics: metrics(4, 2),
      blockEvaluations: [
        { block: best[0], unhealed: metrics(3, 2.5) },
        { block: best[1], notCut: 'cannot cut layers 1..2: node /blocks.1/MatMul of a removed layer is still needed' },
      ],
    });
    const md = readFileSync(
      (await writeAnalysisReport(folder('not-cut'), result, distances)).markdownReportPath,
      'utf8',
    );
    expect(md).toContain('| 1 | 1..1 | 2.5000 | +0.5000 | 30.00 | 3000 |');
    expect(md).toContain('| 2 | 1..2 | — | — | — | — |');
    expect(md).toContain('- 1..2 could not be cut out: cannot cut layers 1..2: node /blocks.1/MatMul');
  });

  it('leaves the loss table out of an analysis that measured no blocks', async () => {
    const result = pruningV1.AnalysisResult.fromPartial({
      model: { name: 'lm', version: '1' },
      layerCount: 4,
      bestBlocks: best,
    });
    const out = await writeAnalysisReport(folder('plain'), result, distances);
    expect(readFileSync(out.markdownReportPath, 'utf8')).not.toContain('Loss against layers removed');
  });

  it('writes a pruning report that says where the healing map went', async () => {
    const result = pruningV1.PruningResult.fromPartial({
      sourceModel: { name: 'lm', version: '1' },
      prunedModel: { name: 'lm', version: '2' },
      removedBlock: best[0],
      healing: {
        method: pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES,
        ridgeAlpha: 0.001,
        maxTokens: 512,
        placement: pruningV1.HealingPlacement.HEALING_PLACEMENT_FOLD,
        foldedInto: '/blocks.0/mlp/proj/MatMul',
      },
      before: metrics(4, 2),
      afterUnhealed: metrics(3, 2.5),
      afterHealed: metrics(3, 2.25),
      analysisJobId: 'job-abc-00000000',
    });
    const out = await writePruningReport(folder('pruning'), result, distances);
    const md = readFileSync(out.markdownReportPath, 'utf8');
    expect(md).toContain('Removed layers 1..1 (n = 1, angular distance 0.1000, from analysis job-abc-00000000)');
    expect(md).toContain('folded into `/blocks.0/mlp/proj/MatMul` (no new parameters)');
    expect(md).toContain('| pruned + healed | 3 | 2.2500 | 0.2500 |');
    expect(out.heatmapPath).not.toBe('');
    // Without distances (start layer given) there is no heatmap, and no distance rather than a NaN.
    const unmeasured = { blockSize: 1, startLayer: 1 };
    const given = await writePruningReport(
      folder('given'),
      { ...result, analysisJobId: '', removedBlock: unmeasured },
      undefined,
    );
    expect(given.heatmapPath).toBe('');
    expect(readFileSync(given.markdownReportPath, 'utf8')).toContain('Removed layers 1..1 (n = 1, start layer given)');
    expect(JSON.parse(readFileSync(given.jsonReportPath, 'utf8')).removedBlock).toEqual(unmeasured);
    // A block-influence analysis names its metric instead of calling the value an angular distance.
    const influence = await writePruningReport(
      folder('influence'),
      { ...result, blockMetric: pruningV1.DistanceMetric.DISTANCE_METRIC_BLOCK_INFLUENCE_ALL_TOKENS },
      distances,
    );
    expect(readFileSync(influence.markdownReportPath, 'utf8')).toContain(
      '(n = 1, block influence (all tokens) 0.1000, from analysis job-abc-00000000)',
    );
    // No start layer and no analysis job: the pruning job measured the distances itself.
    const own = await writePruningReport(folder('own'), { ...result, analysisJobId: '' }, distances);
    expect(readFileSync(own.markdownReportPath, 'utf8')).toContain("chosen by this job's own analysis");
  });
});
