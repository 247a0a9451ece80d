/**
 * English prose from the README files of the installed npm packages (code, tables, headings, HTML, links
 * and badges stripped): a text source that is on every machine with the repository installed, for checks
 * and benchmarks of the pruning method on language models. Packages are split by a hash of their name
 * into a calibration half and a held-out half, so no held-out package is seen during calibration.
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteCodec, type TextCodec } from '@sift/inference';

/** Prose paragraphs of a Markdown README: no code, tables, headings, HTML, links or badges. */
export function proseParagraphs(markdown: string): string[] {
  const text = markdown
    .replace(/```[\s\S]*?```/g, '\n')
    .replace(/<!--[\s\S]*?-->/g, '\n')
    .replace(/<[^>]+>/g, ' ')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/[*_]{1,3}([^*_\n]+)[*_]{1,3}/g, '$1');
  const out: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => !/^\s*(#|\||>|\[| {4}|\t)/.test(l));
    const para = lines
      .map((l) => l.replace(/^\s*([-*+]|\d+\.)\s+/, '').trim())
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (para.length < 120 || /https?:|\{|\}|=>|;$/.test(para)) continue;
    const letters = para.match(/[A-Za-z ,.'()-]/g)?.length ?? 0;
    if (letters / para.length < 0.95) continue;
    out.push(para);
  }
  return out;
}

/** The README.md of every package (scoped ones included) under `nodeModules`, in name order. */
export function readmeFiles(nodeModules: string): { pkg: string; path: string }[] {
  const dirs: string[] = [];
  for (const name of readdirSync(nodeModules).sort()) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@'))
      for (const sub of readdirSync(join(nodeModules, name)).sort()) dirs.push(`${name}/${sub}`);
    else dirs.push(name);
  }
  const out: { pkg: string; path: string }[] = [];
  for (const pkg of dirs) {
    let files: string[];
    try {
      files = readdirSync(join(nodeModules, pkg));
    } catch {
      continue;
    }
    const readme = files.find((f) => /^readme\.md$/i.test(f));
    if (readme) out.push({ pkg, path: join(nodeModules, pkg, readme) });
  }
  return out;
}

export interface ReadmeCorpusOptions {
  /** The `node_modules` folder to read. */
  readonly nodeModules: string;
  /** Tokens per calibration window, as `codec` reads the text. */
  readonly context: number;
  readonly calibrationWindows: number;
  /** Bytes of held-out text (whatever the model: its figures then cover the same text). */
  readonly evaluationBytes: number;
  /** How the model reads text; UTF-8 bytes when absent. */
  readonly codec?: TextCodec;
}

/** Calibration windows (token ids) and held-out text, with the number of packages that fed each. */
export interface ReadmeCorpus {
  readonly calibration: Int32Array[];
  readonly evaluation: string;
  readonly packages: [calibration: number, evaluation: number];
}

/**
 * Calibration windows of `context` tokens (consecutive slices of the calibration half's paragraphs, joined
 * by blank lines, as the codec reads them), and held-out evaluation text of `evaluationBytes` bytes from
 * the other packages. Throws when the installed READMEs hold too little prose.
 */
export function readmeCalibrationAndEvaluation(opts: ReadmeCorpusOptions): ReadmeCorpus {
  const { context, calibrationWindows, evaluationBytes: budget } = opts;
  const codec = opts.codec ?? byteCodec;
  const streams = { calibration: [] as string[], evaluation: [] as string[] };
  const counts = [0, 0];
  for (const { pkg, path } of readmeFiles(opts.nodeModules)) {
    const paras = proseParagraphs(readFileSync(path, 'utf8'));
    if (paras.length === 0) continue;
    const toEval = createHash('sha256').update(pkg).digest()[0]! % 2 === 0;
    (toEval ? streams.evaluation : streams.calibration).push(...paras);
    counts[toEval ? 1 : 0]!++;
  }
  const calibrationIds = codec.encode(streams.calibration.join('\n\n')).ids;
  const calibration: Int32Array[] = [];
  for (let s = 0; s + context <= calibrationIds.length && calibration.length < calibrationWindows; s += context) {
    calibration.push(calibrationIds.subarray(s, s + context));
  }
  const evaluationBytes = Buffer.from(streams.evaluation.join('\n\n'), 'utf8');
  if (calibration.length < calibrationWindows || evaluationBytes.length < budget) {
    throw new Error(
      `not enough README prose in ${opts.nodeModules} for ${calibrationWindows} calibration windows of ${context} ` +
        `tokens and ${budget} evaluation bytes (have ${calibrationIds.length} tokens and ${evaluationBytes.length} bytes)`,
    );
  }
  // Cut at a character boundary at or before the byte budget, so the text stays valid UTF-8.
  let end = budget;
  while (end > 0 && (evaluationBytes[end]! & 0xc0) === 0x80) end--;
  const evaluation = evaluationBytes.subarray(0, end).toString('utf8');
  return { calibration, evaluation, packages: [counts[0]!, counts[1]!] };
}
