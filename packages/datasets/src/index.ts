/** Streaming reading and writing of datasets (JSONL, gzip JSONL, Parquet; plain text as paragraphs) for the services that read corpora. */

export { DataRoots, realOrResolved } from './data-roots.js';
export { DatasetError, type DatasetErrorKind } from './dataset-error.js';
export {
  checkRegularFile,
  type DatasetFile,
  type DatasetFormat,
  type FileFormat,
  fileAccessError,
  formatFromExtension,
  listDatasetFiles,
  resolveFormat,
} from './dataset-files.js';
export { type DatasetRecord, fieldValue, type InvalidRecord, readableId } from './dataset-record.js';
export { defaultMaxLineBytes } from './jsonl-reader.js';
export { type DatasetSpec, readRecords } from './read-records.js';
export { createRecordWriter, type RecordWriter, type RecordWriterSpec } from './record-writer.js';
export { type ParagraphReadOptions, readTextParagraphs } from './text-paragraphs.js';
