import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { DatasetError } from './dataset-error.js';
import { fileAccessError } from './dataset-files.js';
import { defaultMaxLineBytes } from './jsonl-reader.js';

/** Options for reading a plain-text file as paragraphs. */
export interface ParagraphReadOptions {
  /**
   * Longest paragraph accepted, in bytes (its lines and the line breaks between them): the bound on memory
   * for one paragraph. Default 64 MiB, the JSONL reader's longest line.
   */
  maxParagraphBytes?: number;
}

const lineFeed = 0x0a;
const carriageReturn = 0x0d;
const readChunkBytes = 1024 * 1024;

/**
 * Streams the paragraphs of a UTF-8 text file: runs of lines separated by blank (empty or whitespace-only)
 * lines, each joined with `\n`. Line breaks are `\n`, `\r\n` or a lone `\r`; invalid UTF-8 becomes U+FFFD.
 *
 * The file is split on bytes and a line is decoded only once it is complete and within the limit, so a file
 * with one huge line (a 2 GB file of NUL bytes, a minified dump) fails with a DatasetError naming the file
 * and line after at most `maxParagraphBytes` have been held, instead of growing a string until V8 throws
 * `Invalid string length`. Every step runs in this generator, never in a stream callback: whatever goes wrong
 * reaches the caller's loop as a rejection, not the process as an uncaught exception.
 */
export async function* readTextParagraphs(path: string, options: ParagraphReadOptions = {}): AsyncGenerator<string> {
  const maxBytes = options.maxParagraphBytes ?? defaultMaxLineBytes;
  // Open first so a missing file is reported as such, before any stream machinery is involved.
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw fileAccessError(path, err);
  });
  const file = createReadStream(path, { fd: handle, highWaterMark: readChunkBytes });

  let lineNumber = 0; // lines ended so far
  let paragraph: string[] = [];
  let paragraphBytes = 0; // bytes of `paragraph`'s lines and the breaks between them
  let firstLine = 0; // 1-based line the current paragraph starts at
  let pending: Buffer[] = []; // the line being assembled across read chunks
  let pendingBytes = 0;
  let skipLineFeed = false; // the previous chunk ended with \r: a \n starting this one belongs to it

  /** Throws once the current paragraph plus `lineBytes` of the line being read would pass the limit. */
  const checkSize = (lineBytes: number) => {
    const bytes = paragraphBytes + (paragraph.length > 0 ? 1 : 0) + lineBytes;
    if (bytes <= maxBytes) return;
    const line = lineNumber + 1;
    const start = paragraph.length > 0 ? firstLine : line;
    throw new DatasetError(
      'invalid_argument',
      `text longer than ${maxBytes} bytes at ${path}:${line} (in the paragraph starting at line ${start}); ` +
        'a plain-text file is read as paragraphs separated by blank lines: add blank lines or convert it to JSONL',
      path,
      line,
    );
  };
  /** Ends a line; returns the paragraph a blank line closes, if any. */
  const endLine = (bytes: Buffer): string | undefined => {
    lineNumber += 1;
    const line = bytes.toString('utf8');
    if (line.trim() === '') {
      if (paragraph.length === 0) return undefined;
      const text = paragraph.join('\n');
      paragraph = [];
      paragraphBytes = 0;
      return text;
    }
    if (paragraph.length === 0) firstLine = lineNumber;
    else paragraphBytes += 1;
    paragraph.push(line);
    paragraphBytes += bytes.length;
    return undefined;
  };

  try {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      let start = 0;
      if (skipLineFeed && chunk.length > 0) {
        skipLineFeed = false;
        if (chunk[0] === lineFeed) start = 1;
      }
      let lf = chunk.indexOf(lineFeed, start);
      let cr = chunk.indexOf(carriageReturn, start);
      while (lf !== -1 || cr !== -1) {
        const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
        checkSize(pendingBytes + end - start);
        const piece = chunk.subarray(start, end);
        const text = endLine(pending.length > 0 ? Buffer.concat([...pending, piece]) : piece);
        pending = [];
        pendingBytes = 0;
        start = end + 1;
        if (end === cr) {
          if (start === chunk.length) skipLineFeed = true;
          else if (chunk[start] === lineFeed) start += 1;
        }
        if (lf !== -1 && lf < start) lf = chunk.indexOf(lineFeed, start);
        if (cr !== -1 && cr < start) cr = chunk.indexOf(carriageReturn, start);
        if (text !== undefined) yield text;
      }
      if (start < chunk.length) {
        pendingBytes += chunk.length - start;
        checkSize(pendingBytes);
        // Copy: a view would pin the whole read chunk while the line is assembled.
        pending.push(Buffer.from(chunk.subarray(start)));
      }
    }
    if (pending.length > 0) {
      const text = endLine(Buffer.concat(pending));
      if (text !== undefined) yield text;
    }
    if (paragraph.length > 0) yield paragraph.join('\n');
  } finally {
    file.destroy();
    // As in the JSONL reader: a reader stopped early has let go of the file once the caller's loop ends.
    if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
  }
}
