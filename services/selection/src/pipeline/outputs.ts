import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commonV1, selectionV1 } from '@sift/contracts';
import {
  createRecordWriter,
  type DatasetFormat,
  type InvalidRecord,
  listDatasetFiles,
  readRecords,
  resolveFormat,
} from '@sift/datasets';
import { echoed, SiftError } from '@sift/kit';
import { decisionOf } from './decisions.js';
import {
  checkInvalidShare,
  type InvalidRecordTally,
  invalidRecordDetail,
  invalidRecordId,
  invalidRecordPolicy,
  invalidRecordsNamed,
  invalidRecordsOf,
} from './invalid-records.js';
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

/** The reader's spec for the dataset's `files`, passing invalid records to `onInvalidRecord` when given. */
function recordsSpec(dataset: selectionV1.Dataset, files: string[], onInvalidRecord?: (r: InvalidRecord) => void) {
  return {
    paths: files,
    format: formatName(dataset.format),
    textField: dataset.textField,
    ...(dataset.idField ? { idField: dataset.idField } : {}),
    ...(dataset.limit ? { limit: dataset.limit } : {}),
    ...(onInvalidRecord ? { onInvalidRecord } : {}),
  };
}

/** The dataset as loaded: every record read, in order; the invalid ones skipped (text '') by position. */
export interface LoadedDataset {
  ids: string[];
  texts: string[];
  /** Position of each skipped invalid record -> its decision's detail (the reader's reason and location). */
  invalid: Map<number, string>;
}

/**
 * Streams the dataset once and keeps ids and texts; fails on an empty dataset, duplicate ids (an invalid
 * record's included), more text than `maxChars` (every text stays in memory for the job: an unbounded one
 * ran the worker out of heap, and the redelivered job did it again on every restart), or, when invalid
 * records are skipped, a larger share of them than the dataset allows.
 */
export async function loadDataset(
  dataset: selectionV1.Dataset,
  tick: (done: number, total: number) => void,
  maxChars: number,
): Promise<LoadedDataset> {
  const policy = invalidRecordPolicy(dataset);
  const ids: string[] = [];
  const texts: string[] = [];
  const invalid = new Map<number, string>();
  const tally: InvalidRecordTally = { count: 0, first: [] };
  const seen = new Map<string, number>();
  let chars = 0;
  const add = (id: string, index: number, text: string) => {
    const first = seen.get(id);
    if (first !== undefined) {
      throw new SiftError(
        'invalid_argument',
        `duplicate record id "${echoed(id)}": records ${first} and ${index} (0-based, across the dataset's files in order) share it; ids must be unique`,
      );
    }
    seen.set(id, index);
    ids.push(id);
    texts.push(text);
    if (ids.length % 1000 === 0) tick(ids.length, 0);
  };
  // The reader calls this before it yields the next valid record, so positions stay in dataset order.
  const skip = (r: InvalidRecord) => {
    const id = invalidRecordId(r.raw, r.index, dataset.idField);
    const detail = invalidRecordDetail(r.location, r.reason);
    invalid.set(r.index, detail);
    tally.count += 1;
    if (tally.first.length < invalidRecordsNamed) tally.first.push({ id, detail });
    add(id, r.index, '');
  };
  const records = readRecords(recordsSpec(dataset, await datasetFiles(dataset), policy.skip ? skip : undefined));
  for await (const r of records) {
    chars += r.text.length;
    if (chars > maxChars) {
      throw new SiftError(
        'invalid_argument',
        `dataset ${datasetName(dataset)} holds more than ${maxChars} characters of text (passed at record ${r.index}); ` +
          'select a part of it (dataset.limit) or raise SIFT_SELECTION_MAX_DATASET_CHARS with the worker heap',
      );
    }
    add(r.id, r.index, r.text);
  }
  if (ids.length === 0) throw new SiftError('invalid_argument', `dataset ${datasetName(dataset)} has no records`);
  checkInvalidShare(tally, ids.length, policy.maxFraction);
  if (invalid.size === ids.length) {
    throw new SiftError('invalid_argument', `every record of dataset ${datasetName(dataset)} is invalid`);
  }
  tick(ids.length, ids.length);
  return { ids, texts, invalid };
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
  // Parquet fixes each column's type from the valid records, and an invalid record's text (or id) is often of
  // another type or missing: dropped invalid records of a Parquet output go, as read, to invalid.jsonl.
  const invalidPath = droppedPath && outFormat === 'parquet' ? join(output.path, 'invalid.jsonl') : undefined;
  let invalidWriter: Awaited<ReturnType<typeof createRecordWriter>> | undefined;
  // Records are matched to the state by their position, which counts the invalid ones the load skipped: the
  // reader hands those to `skipped` (before it yields the next valid record), and they are written in turn.
  const skipped: { index: number; raw: Record<string, unknown> }[] = [];
  const skipping = invalidRecordPolicy(dataset).skip;
  const records = readRecords(
    recordsSpec(dataset, files, skipping ? (r) => skipped.push({ index: r.index, raw: r.raw }) : undefined),
  );
  let written = 0;
  const write = async (index: number, raw: Record<string, unknown>, line: string | undefined) => {
    const decision = decisionOf(state, index);
    // `kept` is written for every record: protobuf JSON would leave it out when false, and a filter on
    // `.kept == false` would then match nothing.
    await decisionsWriter.write({ ...(selectionV1.RecordDecision.toJSON(decision) as object), kept: decision.kept });
    if (state.alive[index]) await keptWriter.write(raw, line);
    else if (invalidPath && decision.reason === selectionV1.DecisionReason.DECISION_REASON_INVALID_RECORD) {
      invalidWriter ??= await createRecordWriter({ path: invalidPath, format: 'jsonl' });
      await invalidWriter.write({ ...raw, _sift: selectionV1.RecordDecision.toJSON(decision) });
    } else await droppedWriter?.write({ ...raw, _sift: selectionV1.RecordDecision.toJSON(decision) });
    written++;
    if (written % 1000 === 0) tick(written, state.ids.length);
  };
  // A record valid now and invalid at load, or the other way round, means the files changed under the job:
  // its decisions would land on other records.
  const wasInvalid = (index: number) => state.drops.get(index)?.reason === 'invalid-record';
  const changed = (index: number) =>
    new SiftError(
      'failed_precondition',
      `record ${index} of dataset ${datasetName(dataset)} is ${wasInvalid(index) ? 'valid' : 'invalid'} now but was not when the job loaded it: the dataset changed while the job ran`,
    );
  const writeSkipped = async () => {
    for (const s of skipped.splice(0)) {
      if (s.index >= state.ids.length) return;
      if (!wasInvalid(s.index)) throw changed(s.index);
      await write(s.index, s.raw, undefined);
    }
  };
  for await (const r of records) {
    await writeSkipped();
    if (r.index >= state.ids.length) break;
    if (wasInvalid(r.index)) throw changed(r.index);
    await write(r.index, r.raw, r.line);
  }
  await writeSkipped();
  await Promise.all([keptWriter.close(), droppedWriter?.close(), decisionsWriter.close(), invalidWriter?.close()]);

  const invalid = invalidRecordsOf(state);
  const jsonPath = join(output.path, 'report.json');
  const mdPath = join(output.path, 'report.md');
  const data: SelectionReportData = {
    jobId,
    dataset: { paths: dataset.paths, textField: dataset.textField, idField: dataset.idField },
    recordsTotal: state.ids.length,
    recordsKept: kept,
    ...(invalid.count > 0 ? { invalidRecords: invalid } : {}),
    stages,
    steps,
    outputs: {
      kept: keptPath,
      decisions: decisionsPath,
      ...(droppedPath ? { dropped: droppedPath } : {}),
      ...(invalidWriter && invalidPath ? { invalid: invalidPath } : {}),
    },
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
    recordsInvalid: invalid.count,
  };
}
