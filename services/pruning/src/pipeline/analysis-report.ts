import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pruningV1 } from '@sift/contracts';
import { encodePng } from '../adapters/png.js';
import type { BlockDistances } from '../domain/angular-distance.js';
import { distanceHeatmap } from '../domain/heatmap.js';

/**
 * Writes an analysis's heatmap (PNG), JSON report and Markdown report into `dir` and returns the result
 * with their paths filled in.
 */
export async function writeAnalysisReport(
  dir: string,
  result: pruningV1.AnalysisResult,
  distances: BlockDistances,
): Promise<pruningV1.AnalysisResult> {
  const heatmapPath = join(dir, 'heatmap.png');
  const jsonReportPath = join(dir, 'report.json');
  const markdownReportPath = join(dir, 'report.md');
  await writeFile(heatmapPath, encodePng(distanceHeatmap(distances, result.bestBlocks)));
  const metric = pruningV1.distanceMetricToJSON(result.metric);
  const rows: number[][] = [];
  for (let l = 0; l < distances.layerCount; l++) {
    rows.push(Array.from(distances.values.subarray(l * distances.maxBlockSize, (l + 1) * distances.maxBlockSize)));
  }
  const out = { ...result, heatmapPath, jsonReportPath, markdownReportPath };
  await writeFile(
    jsonReportPath,
    `${JSON.stringify({ ...(pruningV1.AnalysisResult.toJSON({ ...out, distances: undefined }) as object), distanceMatrix: rows }, null, 2)}\n`,
  );
  const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(4));
  const md = [
    `# Layer analysis of ${result.model?.name}@${result.model?.version}`,
    '',
    `${result.layerCount} layers, metric ${metric}, ${result.samples} samples (${result.tokens} tokens), residual stream from ${result.residualStreamSource}.`,
    '',
    '![distance heatmap: rows are start layers, columns block sizes; outlined cells are l*(n)](heatmap.png)',
    '',
    '| n | best start l*(n) | distance |',
    '| ---: | ---: | ---: |',
    ...result.bestBlocks.map((b) => `| ${b.blockSize} | ${b.startLayer} | ${fmt(b.distance)} |`),
    '',
    `| l \\\\ n | ${Array.from({ length: distances.maxBlockSize }, (_, i) => i + 1).join(' | ')} |`,
    `| ---: |${' ---: |'.repeat(distances.maxBlockSize)}`,
    ...rows.map((r, l) => `| ${l} | ${r.map(fmt).join(' | ')} |`),
    '',
  ].join('\n');
  await writeFile(markdownReportPath, md);
  return out;
}
