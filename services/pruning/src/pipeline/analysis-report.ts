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
    ...lossTable(result),
    `| l \\\\ n | ${Array.from({ length: distances.maxBlockSize }, (_, i) => i + 1).join(' | ')} |`,
    `| ---: |${' ---: |'.repeat(distances.maxBlockSize)}`,
    ...rows.map((r, l) => `| ${l} | ${r.map(fmt).join(' | ')} |`),
    '',
  ].join('\n');
  await writeFile(markdownReportPath, md);
  return out;
}

/**
 * Writes a pruning job's report into `dir`: the heatmap with the removed block outlined (when the block came
 * from distances), JSON, and Markdown with the before/after table. Returns the result with the paths set.
 */
export async function writePruningReport(
  dir: string,
  result: pruningV1.PruningResult,
  distances: BlockDistances | undefined,
): Promise<pruningV1.PruningResult> {
  const jsonReportPath = join(dir, 'report.json');
  const markdownReportPath = join(dir, 'report.md');
  const block = result.removedBlock;
  let heatmapPath = '';
  if (distances && block) {
    heatmapPath = join(dir, 'heatmap.png');
    await writeFile(heatmapPath, encodePng(distanceHeatmap(distances, [block])));
  }
  const out = { ...result, heatmapPath, jsonReportPath, markdownReportPath };
  await writeFile(jsonReportPath, `${JSON.stringify(pruningV1.PruningResult.toJSON(out), null, 2)}\n`);
  const h = result.healing;
  const healed = h?.method === pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES;
  const base = result.before?.bitsPerByte ?? Number.NaN;
  const row = (label: string, m: pruningV1.ModelMetrics | undefined) =>
    m
      ? `| ${label} | ${m.layerCount} | ${m.bitsPerByte.toFixed(4)} | ${(m.bitsPerByte - base).toFixed(4)} | ` +
        `${m.latencyMsP50.toFixed(2)} | ${m.latencyMsP95.toFixed(2)} | ${m.fileSizeBytes} | ${m.parameterCount} |`
      : '';
  const last = (block?.startLayer ?? 0) + (block?.blockSize ?? 0) - 1;
  const md = [
    `# Pruning of ${result.sourceModel?.name}@${result.sourceModel?.version} -> ${result.prunedModel?.name}@${result.prunedModel?.version}`,
    '',
    `Removed layers ${block?.startLayer}..${last} (n = ${block?.blockSize}` +
      `${block?.distance === undefined ? '' : `, ${metricLabel(result.blockMetric)} ${block.distance.toFixed(4)}`}` +
      `${
        result.analysisJobId
          ? `, from analysis ${result.analysisJobId}`
          : distances
            ? ", chosen by this job's own analysis"
            : ', start layer given'
      }).`,
    healed
      ? `Healing: least-squares map (ridge α ${h.ridgeAlpha}, ${h.maxTokens} calibration tokens), ${
          h.foldedInto
            ? `folded into \`${h.foldedInto}\` (no new parameters)`
            : `inserted as a MatMul (${h.addedParameters} parameters)`
        }.`
      : 'No healing.',
    '',
    ...(heatmapPath ? ['![distance heatmap with the removed block outlined](heatmap.png)', ''] : []),
    '| model | layers | bits/byte | Δ | p50 ms | p95 ms | bytes | parameters |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    row('source', result.before),
    row('pruned', result.afterUnhealed),
    ...(healed ? [row('pruned + healed', result.afterHealed)] : []),
    '',
  ].join('\n');
  await writeFile(markdownReportPath, md);
  return out;
}

/** Markdown of the loss against layers removed, when the analysis measured it; no lines otherwise. */
function lossTable(result: pruningV1.AnalysisResult): string[] {
  const source = result.sourceMetrics;
  if (!source || result.blockEvaluations.length === 0) return [];
  const healed = result.blockEvaluations.some((e) => e.healed);
  const bits = (m: pruningV1.ModelMetrics | undefined) => (m ? m.bitsPerByte.toFixed(4) : '—');
  const delta = (m: pruningV1.ModelMetrics | undefined) => {
    if (!m) return '—';
    const d = m.bitsPerByte - source.bitsPerByte;
    return `${d >= 0 ? '+' : ''}${d.toFixed(4)}`;
  };
  const rows = [
    { n: 0, block: '—', unhealed: source, healed: healed ? source : undefined },
    ...result.blockEvaluations.map((e) => {
      const start = e.block?.startLayer ?? 0;
      const n = e.block?.blockSize ?? 0;
      return { n, block: `${start}..${start + n - 1}`, unhealed: e.unhealed, healed: e.healed, notCut: e.notCut };
    }),
  ];
  const notCut = rows.filter((r) => 'notCut' in r && r.notCut);
  const columns = ['layers removed', 'block', 'bits/byte', 'Δ'];
  if (healed) columns.push('healed bits/byte', 'Δ healed');
  columns.push('p50 ms', 'bytes');
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    '## Loss against layers removed',
    '',
    `Each block l*(n) actually removed and measured on the held-out texts (bits per byte; Δ against the ` +
      `source's ${source.bitsPerByte.toFixed(4)}; latency and size of the model as it would be stored).`,
    '',
    line(columns),
    line(columns.map((_, i) => (i === 1 ? '---' : '---:'))),
    ...rows.map((r) => {
      const stored = r.healed ?? r.unhealed;
      return line([
        String(r.n),
        r.block,
        bits(r.unhealed),
        delta(r.unhealed),
        ...(healed ? [bits(r.healed), delta(r.healed)] : []),
        stored ? stored.latencyMsP50.toFixed(2) : '—',
        String(stored?.fileSizeBytes ?? '—'),
      ]);
    }),
    '',
    ...notCut.map((r) => `- ${r.block} could not be cut out: ${'notCut' in r ? r.notCut : ''}`),
    ...(notCut.length > 0 ? [''] : []),
  ];
}

/** How a report names the value of a distance metric. */
function metricLabel(metric: pruningV1.DistanceMetric): string {
  return metric === pruningV1.DistanceMetric.DISTANCE_METRIC_BLOCK_INFLUENCE_ALL_TOKENS
    ? 'block influence (all tokens)'
    : 'angular distance';
}
