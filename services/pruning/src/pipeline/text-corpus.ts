import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { pruningV1 } from '@sift/contracts';
import {
  checkRegularFile,
  fileAccessError,
  formatFromExtension,
  readRecords,
  readTextParagraphs,
} from '@sift/datasets';
import { echoed, SiftError } from '@sift/kit';

/**
 * Most text one corpus may bring into memory, in UTF-16 code units (the whole corpus is held while the
 * model runs over it). Calibration needs thousands of tokens, not gigabytes: beyond this, set `limit`.
 */
export const maxCorpusChars = 64 * 1024 * 1024;

/**
 * Checks the form of a dataset path before the data roots or the file system see it: present, without a NUL
 * character, and absolute (a relative path would resolve against the service's working directory, which the
 * caller cannot see). Throws invalid_argument naming `field`.
 */
export function checkDatasetPath(path: string, field: string): void {
  if (!path) throw new SiftError('invalid_argument', `${field} is required`);
  // The file system refuses such a path with a TypeError that would surface as an internal error.
  if (path.includes('\u0000')) throw new SiftError('invalid_argument', `${field} contains a NUL character`);
  if (!isAbsolute(path)) {
    throw new SiftError(
      'invalid_argument',
      `${field} must be an absolute path on the service's machine, got "${echoed(path)}"`,
    );
  }
}

/**
 * Checks a corpus without reading it, for submit time: inline texts present and non-empty; a dataset path
 * that is absolute and names an existing regular file (not a FIFO or device, whose reading blocks or never
 * ends) or folder, with a text field when it is JSONL or Parquet. Throws invalid_argument or not_found
 * naming `field`.
 */
export async function checkCorpus(corpus: pruningV1.TextCorpus | undefined, field: string): Promise<void> {
  const source = corpus?.source;
  if (!source) throw new SiftError('invalid_argument', `${field}: texts are required (inline or dataset)`);
  if (source.$case === 'inline') {
    inlineTexts(source.value, `${field}.inline`);
    return;
  }
  const { path, textField } = source.value;
  const pathField = `${field}.dataset.path`;
  checkDatasetPath(path, pathField);
  const info = await stat(path).catch((err: unknown) => {
    throw naming(pathField, fileAccessError(path, err));
  });
  if (!info.isDirectory()) {
    try {
      checkRegularFile(path, info);
    } catch (err) {
      throw naming(pathField, err);
    }
  }
  const plainText = info.isFile() && formatFromExtension(path) === undefined;
  if (!plainText && !textField) {
    throw new SiftError(
      'invalid_argument',
      `${field}.dataset.text_field is required for ${path} (JSONL or Parquet): name the field holding the text`,
    );
  }
}

/** `err` with `field` in front of its message, when it is one of ours (its kind kept); anything else as is. */
function naming(field: string, err: unknown): unknown {
  return err instanceof SiftError ? new SiftError(err.kind, `${field}: ${err.message}`, { cause: err }) : err;
}

/**
 * The corpus's texts. A dataset is streamed: JSONL (plain or gzip) and Parquet through `@sift/datasets`
 * (the text field, empty texts skipped), any other file as plain text split into samples on blank lines
 * (each at most 64 MiB: a longer one fails naming the file and line); at most `limit` texts and
 * {@link maxCorpusChars} characters.
 */
export async function loadCorpus(corpus: pruningV1.TextCorpus | undefined, field: string): Promise<string[]> {
  await checkCorpus(corpus, field);
  const source = corpus?.source as NonNullable<pruningV1.TextCorpus['source']>;
  if (source.$case === 'inline') return source.value.texts;
  const { path, textField } = source.value;
  const limit = Number(source.value.limit) || Number.POSITIVE_INFINITY;
  const texts: string[] = [];
  let chars = 0;
  const add = (text: string): boolean => {
    if (text.length === 0) return texts.length < limit;
    chars += text.length;
    if (chars > maxCorpusChars) {
      throw new SiftError(
        'resource_exhausted',
        `${field}.dataset: ${path} holds more than ${maxCorpusChars} characters of text after ${texts.length} ` +
          'texts; set limit to read fewer',
      );
    }
    texts.push(text);
    return texts.length < limit;
  };
  const info = await stat(path);
  if (info.isFile() && formatFromExtension(path) === undefined) {
    for await (const paragraph of readTextParagraphs(path)) if (!add(paragraph)) break;
  } else {
    for await (const record of readRecords({ paths: [path], format: 'auto', textField, formatField: '' }))
      if (!add(record.text)) break;
  }
  if (texts.length === 0) throw new SiftError('invalid_argument', `${field}.dataset: ${path} holds no non-empty text`);
  return texts;
}

function inlineTexts(inline: pruningV1.InlineTexts, field: string): string[] {
  const texts = inline.texts;
  if (texts.length === 0) throw new SiftError('invalid_argument', `${field}.texts: at least one text is required`);
  const empty = texts.findIndex((t) => t.trim() === '');
  if (empty >= 0) throw new SiftError('invalid_argument', `${field}.texts[${empty}] is empty or only whitespace`);
  return texts;
}
