import type { ResolvedStep } from './steps.js';

/** One stage's line in the report. */
export interface StageSummary {
  stage: string;
  kind: string;
  recordsIn: number;
  recordsKept: number;
  seconds: number;
  /** Cluster-size histogram: counts of clusters with size <= each upper bound. */
  clusterSizes?: { upperBounds: number[]; counts: number[] };
  epsSweep?: { eps: number; wouldDrop: number }[];
  facts?: Record<string, unknown>;
}

/** What a text-quality stage reports (see the stage). */
interface TextQualityFacts {
  model: string;
  pplAll: number;
  weights: Record<string, { weight: number; ppl: number | null }>;
  fallbackToEqualWeights: boolean;
}

/** SCIP's corruption diagnostic as the stage reports it. */
interface CorruptionFacts {
  pairs: number;
  smallerClusterShare: number;
  fartherShare: number;
  meanClusterSizeDelta: number;
  meanDistanceDelta: number;
  byGroup?: Record<string, CorruptionFacts>;
}

/** The whole job's report, written as JSON and Markdown next to the kept dataset. */
export interface SelectionReportData {
  jobId: string;
  dataset: { paths: string[]; textField: string; idField: string };
  recordsTotal: number;
  recordsKept: number;
  /** Invalid records skipped at load (`dataset.invalid_records`): their count and the first few; absent when none. */
  invalidRecords?: { count: number; first: { id: string; detail: string }[] };
  stages: StageSummary[];
  steps: ResolvedStep[];
  /** `invalid`: the dropped invalid records of a Parquet output, as read (JSONL), when there were any. */
  outputs: { kept: string; decisions: string; dropped?: string; invalid?: string };
}

/**
 * Sizes bucketed at powers of two: how many clusters have 0 (k-means left them empty), 1, 2, 3-4, 5-8, ...
 * members; the counts sum to k.
 */
export function clusterSizeHistogram(labels: Int32Array, k: number): { upperBounds: number[]; counts: number[] } {
  const sizes = new Int32Array(k);
  for (const l of labels) if (l >= 0) sizes[l] = (sizes[l] as number) + 1;
  const upperBounds: number[] = [0];
  const counts: number[] = [sizes.filter((s) => s === 0).length];
  const largest = Math.max(1, ...sizes);
  for (let b = 1; ; b *= 2) {
    upperBounds.push(b);
    counts.push(sizes.filter((s) => s <= b && s > b / 2).length);
    if (b >= largest) break;
  }
  return { upperBounds, counts };
}

/** The Markdown report: counts per stage, cluster sizes, eps sweep and the parameters used. */
export function markdownReport(r: SelectionReportData): string {
  const pct = (a: number, b: number) => (b === 0 ? '0.0' : ((100 * a) / b).toFixed(1));
  const lines = [
    `# Selection report: ${r.jobId}`,
    '',
    `Dataset: ${r.dataset.paths.join(', ')} (text field \`${r.dataset.textField}\`${r.dataset.idField ? `, id field \`${r.dataset.idField}\`` : ''})`,
    '',
    `Kept **${r.recordsKept}** of ${r.recordsTotal} records (${pct(r.recordsKept, r.recordsTotal)}%).`,
    '',
    ...invalidRecordLines(r),
    '| stage | kind | in | kept | dropped | seconds |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...r.stages.map(
      (s) =>
        `| ${s.stage} | ${s.kind} | ${s.recordsIn} | ${s.recordsKept} | ${s.recordsIn - s.recordsKept} | ${s.seconds.toFixed(2)} |`,
    ),
  ];
  for (const s of r.stages) {
    const facts = s.facts as { unreadable?: number; unreadablePolicy?: string } | undefined;
    const unreadable = Number(facts?.unreadable ?? 0);
    if (unreadable > 0) {
      const fate =
        facts?.unreadablePolicy === 'drop'
          ? 'this step dropped them (reason unreadable)'
          : 'they are kept, and the later embedding-space steps pass them through untouched (`unreadable: UNREADABLE_POLICY_DROP` on the embed step drops them instead)';
      lines.push(
        '',
        `**${s.stage}**: ${unreadable} of ${s.recordsIn} records had no token the embedding model knows; their vectors are all zeros, which no clustering can place: ${fate}.`,
      );
    }
    if (s.clusterSizes) {
      lines.push('', `## Cluster sizes after ${s.stage}`, '', '| size <= | clusters |', '| ---: | ---: |');
      s.clusterSizes.upperBounds.forEach((b, i) => {
        lines.push(`| ${b} | ${s.clusterSizes?.counts[i]} |`);
      });
    }
    const quality = s.facts as TextQualityFacts | undefined;
    if (s.kind === 'text-quality' && quality?.weights) {
      lines.push(
        '',
        `## Text-quality filter weights (${s.stage}, ${quality.model})`,
        '',
        `Perplexity of all sample lines: ${quality.pplAll.toFixed(3)}. A filter's weight is how much keeping only the lines it passes lowers that perplexity${quality.fallbackToEqualWeights ? ' (no filter lowered it: equal weights were used)' : ''}.`,
        '',
        '| filter | weight | perplexity of the lines it keeps |',
        '| --- | ---: | ---: |',
      );
      for (const [filter, w] of Object.entries(quality.weights)) {
        lines.push(
          `| ${filter} | ${w.weight.toFixed(4)} | ${w.ppl === null || Number.isNaN(w.ppl) ? 'no line kept' : w.ppl.toFixed(3)} |`,
        );
      }
    }
    const shift = (s.facts as { corruption?: CorruptionFacts } | undefined)?.corruption;
    if (s.kind === 'scip' && shift?.pairs) {
      lines.push(
        '',
        `## Where corrupted copies of files land (${s.stage})`,
        '',
        `${shift.pairs} sampled files, each corrupted once and placed in the same clustering. SCIP relies on corrupted code moving to smaller clusters and away from its centroid:`,
        '',
        '| corruption | pairs | in a smaller cluster | farther from centroid | mean cluster-size change | mean distance change |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
      );
      const row = (name: string, c: CorruptionFacts) =>
        `| ${name} | ${c.pairs} | ${pct(c.smallerClusterShare, 1)}% | ${pct(c.fartherShare, 1)}% | ${c.meanClusterSizeDelta.toFixed(1)} | ${c.meanDistanceDelta.toExponential(2)} |`;
      for (const [kind, c] of Object.entries(shift.byGroup ?? {})) lines.push(row(kind, c));
      lines.push(row('all', shift));
    }
    if (s.epsSweep) {
      lines.push(
        '',
        `## SemDeDup eps sweep (${s.stage})`,
        '',
        '| eps | would drop | share of input |',
        '| ---: | ---: | ---: |',
      );
      for (const p of s.epsSweep) lines.push(`| ${p.eps} | ${p.wouldDrop} | ${pct(p.wouldDrop, s.recordsIn)}% |`);
    }
  }
  lines.push('', '## Parameters', '', '```json', JSON.stringify(r.steps, null, 2), '```', '');
  lines.push('## Outputs', '', `- kept records: ${r.outputs.kept}`, `- decisions: ${r.outputs.decisions}`);
  if (r.outputs.dropped) lines.push(`- dropped records: ${r.outputs.dropped}`);
  if (r.outputs.invalid) lines.push(`- dropped invalid records, as read: ${r.outputs.invalid}`);
  return `${lines.join('\n')}\n`;
}

/** The paragraph on the invalid records the load skipped, with the first few: none when it skipped none. */
function invalidRecordLines(r: SelectionReportData): string[] {
  const invalid = r.invalidRecords;
  if (!invalid?.count) return [];
  const more = invalid.count - invalid.first.length;
  return [
    `Skipped **${invalid.count}** invalid record${invalid.count === 1 ? '' : 's'} at load (text or id field missing or of the wrong type; \`dataset.invalid_records\` is skip), decided as \`invalid-record\`${more > 0 ? `; the first ${invalid.first.length}` : ''}:`,
    '',
    ...invalid.first.map((x) => `- \`${x.id}\`: ${x.detail}`),
    ...(more > 0 ? [`- and ${more} more (decisions.jsonl names every one)`] : []),
    '',
  ];
}
