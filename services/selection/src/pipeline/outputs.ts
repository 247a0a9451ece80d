import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commonV1, selectionV1 } from '@sift/contracts';
import { createRecordWriter, type DatasetFormat, listDatasetFiles, readRecords, resolveFormat } from '@sift/datasets';
import { echoed, SiftError } from '@sift/kit';
import { decisionOf } from './decisions.js';
import { markdownReport, type SelectionReportData, type StageSummary } from './report.js';
import { toProtoStep } from './resolved-steps.js';
import type { PipelineState } from './state.js';
import type { ResolvedStep } from './steps.js';

/** The contract's dataset format as @sift/datasets names it; unspecified (or unknown) is told by the file names. */
function formatName(f: selectionV1.DatasetFormat): DatasetFormat {
  switch (f) {
    case selectionV1.DatasetFormat.DATASET_FORMAT_JSONL:
      return 'jsonl';
    case selectionV1.DatasetFormat.DATASET_FORMAT_JSONL_GZIP:
      return 'jsonl-gzip';
    case selectionV1.DatasetFormat.DATASET_FORMAT_PARQUET:
      return 'parquet';
    default:
      return 'auto';
  }
}

/** The dataset's files (a directory stands for the dataset files inside it); NOT_FOUND when one is missing. */
export async function datasetFiles(dataset: selectionV1.Dataset): Promise<string[]> {
  return (await listDatasetFiles(dataset.paths, formatName(dataset.format))).map((f) => f.path);
}

/** The dataset as a message names it: its first path, and how many more there are. */
function datasetName(dataset: selectionV1.Dataset): string {
  const more = dataset.paths.length - 1;
  return `${echoed(dataset.paths[0] ?? '')}${more > 0 ? ` (and ${more} more path${more > 1 ? 's' : ''})` : ''}`;
}

/**
 * Streams the dataset once and keeps ids and texts; fails on an empty dataset, duplicate ids, or more text
 * than `maxChars` (every text stays in memory for the job: an unbounded one ran the worker out of heap, and
 * the redelivered job did it again on every restart).
 */
export async function loadDataset(
  dataset: selectionV1.Dataset,
  tick: (done: number, total: number) => void,
  maxChars: number,
): Promise<{ ids: string[]; texts: string[] }> {
  const ids: string[] = [];
  const texts: string[] = [];
  const seen = new Map<string, number>();
  let chars = 0;
  const records = readRecords({
    paths: await datasetFiles(dataset),
    format: formatName(dataset.format),
    textField: dataset.textField,
    ...(dataset.idField ? { idField: dataset.idField } : {}),
    ...(dataset.limit ? { limit: dataset.limit } : {}),
  });
  for await (const r of records) {
    const first = seen.get(r.id);
    if (first !== undefined) {
      throw new SiftError(
        'invalid_argument',
        `duplicate record id "${echoed(r.id)}": records ${first} and ${r.index} (0-based, across the dataset's files in order) share it; ids must be unique`,
      );
    }
    seen.set(r.id, r.index);
    chars += r.text.length;
    if (chars > maxChars) {
      throw new SiftError(
        'invalid_argument',
        `dataset ${datasetName(dataset)} holds more than ${maxChars} characters of text (passed at record ${r.index}); ` +
          'select a part of it (dataset.limit) or raise SIFT_SELECTION_MAX_DATASET_CHARS with the worker heap',
      );
    }
    ids.push(r.id);
    texts.push(r.text);
    if (ids.length % 1000 === 0) tick(ids.length, 0);
  }
  if (ids.length === 0) throw new SiftError('invalid_argument', `dataset ${datasetName(dataset)} has no records`);
  tick(ids.length, ids.length);
  return { ids, texts };
}

/**
 * Writes the kept records (streamed again from the source, so raw records are never all in memory), the
 * dropped ones when asked, every decision, and the JSON and Markdown reports.
 */
export async function writeOutputs(
  jobId: string,
  dataset: selectionV1.Dataset,
  output: selectionV1.OutputSpec,
  steps: ResolvedStep[],
  state: PipelineState,
  stages: StageSummary[],
  tick: (done: number, total: number) => void,
): Promise<selectionV1.SelectionReport> {
  const kept = state.alive.reduce((a, b) => a + b, 0);
  if (kept === 0 && !output.allowEmpty) {
    throw new SiftError(
      'failed_precondition',
      'the pipeline kept no record; loosen its parameters or set output.allow_empty if an empty result is intended',
    );
  }
  await mkdir(output.path, { recursive: true });
  const files = await datasetFiles(dataset);
  const inFormat = resolveFormat(files[0] ?? '', formatName(dataset.format));
  const outFormat = output.format ? formatName(output.format) : inFormat;
  const ext = outFormat === 'parquet' ? 'parquet' : outFormat === 'jsonl-gzip' ? 'jsonl.gz' : 'jsonl';
  const keptPath = join(output.path, `kept.${ext}`);
  const droppedPath = output.writeDropped ? join(output.path, `dropped.${ext}`) : undefined;
  const decisionsPath = join(output.path, 'decisions.jsonl');

  const keptWriter = await createRecordWriter({ path: keptPath, format: outFormat });
  const droppedWriter = droppedPath ? await createRecordWriter({ path: droppedPath, format: outFormat }) : undefined;
  const decisionsWriter = await createRecordWriter({ path: decisionsPath, format: 'jsonl' });
  const records = readRecords({
    paths: files,
    format: formatName(dataset.format),
    textField: dataset.textField,
    ...(dataset.idField ? { idField: dataset.idField } : {}),
    ...(dataset.limit ? { limit: dataset.limit } : {}),
  });
  let i = 0;
  for await (const r of records) {
    if (i >= state.ids.length) break;
    const decision = decisionOf(state, i);
    // `kept` is written for every record: protobuf JSON would leave it out when false, and a filter on
    // `.kept == false` would then match nothing.
    await decisionsWriter.write({ ...(selectionV1.RecordDecision.toJSON(decision) as object), kept: decision.kept });
    if (state.alive[i]) await keptWriter.write(r.raw, r.line);
    else await droppedWriter?.write({ ...r.raw, _sift: selectionV1.RecordDecision.toJSON(decision) });
    i++;
    if (i % 1000 === 0) tick(i, state.ids.length);
  }
  await Promise.all([keptWriter.close(), droppedWriter?.close(), decisionsWriter.close()]);

  const jsonPath = join(output.path, 'report.json');
  const mdPath = join(output.path, 'report.md');
  const data: SelectionReportData = {
    jobId,
    dataset: { paths: dataset.paths, textField: dataset.textField, idField: dataset.idField },
    recordsTotal: state.ids.length,
    recordsKept: kept,
    stages,
    steps,
    outputs: { kept: keptPath, decisions: decisionsPath, ...(droppedPath ? { dropped: droppedPath } : {}) },
  };
  await writeFile(jsonPath, `${JSON.stringify(data, null, 2)}\n`);
  await writeFile(mdPath, markdownReport(data));
  return {
    stages: stages.map((s) => ({
      stage: s.stage,
      kind: s.kind,
      state: commonV1.JobState.JOB_STATE_SUCCEEDED,
      recordsIn: s.recordsIn,
      recordsKept: s.recordsKept,
      recordsDropped: s.recordsIn - s.recordsKept,
      seconds: s.seconds,
      clusterSizes: s.clusterSizes,
      epsSweep: s.epsSweep ?? [],
      outputPaths: [],
    })),
    recordsTotal: state.ids.length,
    recordsKept: kept,
    resolvedSteps: steps.map(toProtoStep),
    outputPaths: [keptPath],
    decisionsPath,
    droppedPath: droppedPath ?? '',
    jsonReportPath: jsonPath,
    markdownReportPath: mdPath,
  };
}
