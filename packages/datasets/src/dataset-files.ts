import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { echoed } from '@sift/kit/message-text';
import { DatasetError } from './dataset-error.js';

/** On-disk format of a dataset file; `auto` infers it from each file's extension. */
export type DatasetFormat = 'jsonl' | 'jsonl-gzip' | 'parquet' | 'auto';

/** A concrete format, after `auto` is resolved. */
export type FileFormat = Exclude<DatasetFormat, 'auto'>;

/** One file to read and the format to read it with. */
export interface DatasetFile {
  path: string;
  format: FileFormat;
}

const extensions: Readonly<Record<FileFormat, readonly string[]>> = {
  // Gzip first so `.jsonl.gz` is not mistaken for something ending in `.jsonl`.
  'jsonl-gzip': ['.jsonl.gz', '.json.gz'],
  jsonl: ['.jsonl', '.json'],
  parquet: ['.parquet'],
};

const knownExtensions = Object.values(extensions).flat().join(', ');

/** The format a file name's extension stands for (case-insensitive), or undefined when it is not one we read. */
export function formatFromExtension(path: string): FileFormat | undefined {
  const lower = path.toLowerCase();
  for (const [format, exts] of Object.entries(extensions) as [FileFormat, readonly string[]][]) {
    if (exts.some((ext) => lower.endsWith(ext))) return format;
  }
  return undefined;
}

/** Resolves `auto` for one file, failing with a message that lists the extensions we recognise. */
export function resolveFormat(path: string, format: DatasetFormat): FileFormat {
  if (format !== 'auto') return format;
  const inferred = formatFromExtension(path);
  if (inferred === undefined) {
    throw new DatasetError(
      'invalid_argument',
      `cannot infer the format of ${path} from its extension; name it ${knownExtensions} or set the format`,
      path,
    );
  }
  return inferred;
}

/**
 * Expands the dataset's paths into files, in order. A directory stands for the dataset files directly inside
 * it, in code-unit name order; hidden and underscore-prefixed names (`.crc`, `_SUCCESS` from Spark) are
 * skipped, and only names with a recognised extension (or, for an explicit format, that format's extensions)
 * are taken. An empty result is an error: an empty dataset is almost always a wrong path.
 */
export async function listDatasetFiles(paths: readonly string[], format: DatasetFormat): Promise<DatasetFile[]> {
  if (paths.length === 0) throw new DatasetError('invalid_argument', 'a dataset needs at least one path');
  const files: DatasetFile[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((err: unknown) => {
      throw fileAccessError(path, err);
    });
    if (!info.isDirectory()) {
      checkRegularFile(path, info);
      files.push({ path, format: resolveFormat(path, format) });
      continue;
    }
    const names = (await readdir(path, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.') && !entry.name.startsWith('_'))
      .map((entry) => entry.name)
      .sort();
    const before = files.length;
    for (const name of names) {
      const inferred = formatFromExtension(name);
      if (inferred === undefined || (format !== 'auto' && inferred !== format)) continue;
      files.push({ path: join(path, name), format: inferred });
    }
    if (files.length === before) {
      const wanted = format === 'auto' ? knownExtensions : extensions[format].join(', ');
      throw new DatasetError('not_found', `no dataset files (${wanted}) directly inside directory ${path}`, path);
    }
  }
  return files;
}

/**
 * Refuses a FIFO, device or socket: reading one can block forever (a FIFO with no writer) or never end
 * (/dev/zero), and neither a cancel nor a deadline reaches a worker stuck in the open.
 */
export function checkRegularFile(path: string, info: { isFile(): boolean }): void {
  if (!info.isFile()) {
    throw new DatasetError(
      'invalid_argument',
      `${path} is not a regular file (a FIFO, device or socket); name a file or a folder of files`,
      path,
    );
  }
}

/** Maps a failed open/stat to a DatasetError: a missing file is `not_found`, anything else the caller must fix. */
export function fileAccessError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new DatasetError('not_found', `dataset file not found: ${path}`, path, undefined, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new DatasetError('invalid_argument', `no permission to read ${path}`, path, undefined, { cause: err });
  }
  if (code === 'ENAMETOOLONG') {
    return new DatasetError(
      'invalid_argument',
      `path too long for the file system (${path.length} characters): ${echoed(path)}`,
      path,
      undefined,
      { cause: err },
    );
  }
  if (code === 'ELOOP') {
    return new DatasetError('invalid_argument', `${path} is a loop of symbolic links`, path, undefined, {
      cause: err,
    });
  }
  if (code === 'EISDIR') {
    return new DatasetError('invalid_argument', `${path} is a directory, not a file`, path, undefined, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
