import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';
import { DatasetError } from './dataset-error.js';
import { fileAccessError } from './dataset-files.js';
import { parseJsonExact } from './json-integers.js';

/** A parsed JSON object and the 1-based line (JSONL) or row (Parquet) it came from. */
export interface PositionedRecord {
  position: number;
  raw: Record<string, unknown>;
  /** JSONL: the line itself (without its line ending), for writing the record out unchanged. */
  line?: string;
}

/** Options for reading one JSONL file. */
export interface JsonlReadOptions {
  /** The file is gzip-compressed. */
  gzip: boolean;
  /** Longest line accepted, in bytes; the bound on memory for one line. Default 64 MiB. */
  maxLineBytes?: number;
  /**
   * The request field that sets the format, suggested when a file's name gives the wrong one; '' where the
   * caller's requests have none (only renaming the file helps). Default `dataset.format`.
   */
  formatField?: string;
}

/** Longest line a JSONL reader accepts unless told otherwise: a single record this big is almost surely a broken file. */
export const defaultMaxLineBytes = 64 * 1024 * 1024;

const newline = 0x0a;
const carriageReturn = 0x0d;
const readChunkBytes = 1024 * 1024;

/**
 * Streams the objects of a JSONL file, one per non-blank line, plain or gzip-compressed.
 *
 * Lines are split on bytes and each line is decoded with a fatal UTF-8 decoder, so a non-UTF-8 byte is
 * reported at its line rather than silently replaced; `\r\n` endings, blank lines and a last line without a
 * newline are accepted. Memory is one read chunk (1 MiB) plus the line being assembled, which is capped
 * by `maxLineBytes`: the file is never held whole.
 */
export async function* readJsonlFile(path: string, options: JsonlReadOptions): AsyncGenerator<PositionedRecord> {
  const maxLineBytes = options.maxLineBytes ?? defaultMaxLineBytes;
  const formatField = options.formatField ?? 'dataset.format';
  // Open first so a missing file is reported as such, before any stream machinery is involved.
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw fileAccessError(path, err);
  });
  const file = createReadStream(path, { fd: handle, highWaterMark: readChunkBytes });
  const source = options.gzip ? pipeline(file, createGunzip(), () => {}) : file;
  const decoder = new TextDecoder('utf-8', { fatal: true });

  let lineNumber = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const parseLine = (bytes: Buffer): PositionedRecord | undefined => {
    lineNumber += 1;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === carriageReturn ? bytes.length - 1 : bytes.length;
    const line = bytes.subarray(0, end);
    if (isBlank(line)) return undefined;
    return parseJsonLine(line, decoder, path, lineNumber, formatField);
  };

  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      let start = 0;
      let end = chunk.indexOf(newline, start);
      while (end !== -1) {
        let record: PositionedRecord | undefined;
        checkLineLength(pendingBytes + end - start, maxLineBytes, path, lineNumber + 1);
        if (pending.length > 0) {
          pending.push(chunk.subarray(start, end));
          record = parseLine(Buffer.concat(pending));
          pending = [];
          pendingBytes = 0;
        } else {
          record = parseLine(chunk.subarray(start, end));
        }
        if (record !== undefined) yield record;
        start = end + 1;
        end = chunk.indexOf(newline, start);
      }
      if (start < chunk.length) {
        pendingBytes += chunk.length - start;
        checkLineLength(pendingBytes, maxLineBytes, path, lineNumber + 1);
        // Copy: a view would pin the whole read chunk while the line is assembled.
        pending.push(Buffer.from(chunk.subarray(start)));
      }
    }
    if (pending.length > 0) {
      const record = parseLine(Buffer.concat(pending));
      if (record !== undefined) yield record;
    }
  } catch (err) {
    throw readError(err, path, lineNumber);
  } finally {
    file.destroy();
    if (source !== file) source.destroy();
    // The descriptor is closed on the thread pool: waiting for it means a reader that stops early has let
    // go of the file once its loop ends (and a test can check that without waiting for an unknown time).
    if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
  }
}

function parseJsonLine(
  line: Buffer,
  decoder: TextDecoder,
  path: string,
  lineNumber: number,
  formatField: string,
): PositionedRecord {
  let text: string;
  try {
    text = decoder.decode(line);
  } catch (err) {
    throw new DatasetError('invalid_argument', notUtf8Message(line, path, lineNumber, formatField), path, lineNumber, {
      cause: err,
    });
  }
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (err) {
    // V8 quotes the start of the line in its message ('Unexpected token 'T', "TOP-SECRET"... is not valid
    // JSON'); job errors are read by whoever submitted the job, so the record's text stays out of them.
    const detail =
      err instanceof Error ? `: ${err.message.replace(/, "[\s\S]*"(\.\.\.)? is not valid JSON$/, '')}` : '';
    throw new DatasetError('invalid_argument', `invalid JSON at ${path}:${lineNumber}${detail}`, path, lineNumber, {
      cause: err,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    // A .json file holding one array of records is the usual mistake; say so rather than only "not an object".
    const hint =
      lineNumber === 1 && Array.isArray(value)
        ? ' (the file is one JSON array; JSONL has one object per line, e.g. jq -c ".[]" turns one into the other)'
        : '';
    throw new DatasetError(
      'invalid_argument',
      `line is not a JSON object at ${path}:${lineNumber}${hint}`,
      path,
      lineNumber,
    );
  }
  return { position: lineNumber, raw: value as Record<string, unknown>, line: text };
}

/**
 * Why `line` is not UTF-8, for the message: a gzip file read as plain JSONL, a UTF-16 file (Windows tools
 * still write it), or else where the first bad byte is, with what to do.
 */
function notUtf8Message(line: Buffer, path: string, lineNumber: number, formatField: string): string {
  const at = `invalid UTF-8 at ${path}:${lineNumber}`;
  if (lineNumber === 1 && line[0] === 0x1f && line[1] === 0x8b) {
    const setting = formatField ? ` or set ${formatField}` : '';
    return `${at} (the file is gzip-compressed: name it .jsonl.gz${setting})`;
  }
  if (lineNumber === 1 && ((line[0] === 0xff && line[1] === 0xfe) || (line[0] === 0xfe && line[1] === 0xff))) {
    return `${at} (the file is UTF-16: it starts with a UTF-16 byte-order mark); convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8`;
  }
  const offset = firstInvalidUtf8(line);
  const byte = line[offset] ?? 0;
  return (
    `${at}, byte ${offset + 1} of the line (0x${byte.toString(16).padStart(2, '0')}); JSONL must be UTF-8: ` +
    'convert the file from its encoding, e.g. iconv -f WINDOWS-1252 -t UTF-8'
  );
}

/** Offset where the first ill-formed UTF-8 sequence of `bytes` starts (`bytes.length` when there is none). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    // Continuation bytes a lead byte needs, and the range its first one must lie in (no overlong forms,
    // no surrogates, nothing above U+10FFFF).
    let count: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) count = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      count = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      count = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= count; k++) {
      const next = bytes[i + k];
      if (next === undefined) return i;
      if (k === 1 ? next < low || next > high : next < 0x80 || next > 0xbf) return i;
    }
    i += count + 1;
  }
  return i;
}

/** True for an empty line or one of only spaces and tabs; a record starts with `{`, so this stops at once. */
function isBlank(line: Buffer): boolean {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== carriageReturn) return false;
  }
  return true;
}

function checkLineLength(bytes: number, maxLineBytes: number, path: string, lineNumber: number): void {
  if (bytes > maxLineBytes) {
    throw new DatasetError(
      'invalid_argument',
      `line longer than ${maxLineBytes} bytes at ${path}:${lineNumber}; is the file JSONL?`,
      path,
      lineNumber,
    );
  }
}

/** Keeps DatasetErrors; turns zlib's errors into one that says the gzip data is broken and where. */
function readError(err: unknown, path: string, lineNumber: number): unknown {
  if (err instanceof DatasetError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    const message = err instanceof Error ? err.message : String(err);
    return new DatasetError(
      'invalid_argument',
      `invalid gzip data in ${path} after line ${lineNumber}: ${message}`,
      path,
      lineNumber + 1,
      { cause: err },
    );
  }
  return err;
}
