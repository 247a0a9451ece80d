/**
 * Ground truth for the dedup section: exact copies (verbatim, whitespace-only and case-only variants) and
 * lightly edited near-copies of installed files, shuffled in among them.
 */
import { sampleIndices } from '@sift/numeric';
import type { CorpusFile } from './code-corpus.js';

const pythonWords = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield self'.split(
    ' ',
  ),
);

/** Identifier-like words of a text (≥ 3 characters, not keywords). */
function identifiersOf(text: string): string[] {
  return (text.match(/\b[A-Za-z_][A-Za-z0-9_]{2,}\b/g) ?? []).filter((w) => !pythonWords.has(w));
}

export type ExactVariant = 'verbatim' | 'whitespace' | 'case';
export const exactVariants: ExactVariant[] = ['verbatim', 'whitespace', 'case'];
export type NearEdit = 'change-line' | 'add-lines' | 'remove-lines' | 'rename-identifier' | 'add-comment';
export const nearEdits: NearEdit[] = ['change-line', 'add-lines', 'remove-lines', 'rename-identifier', 'add-comment'];

/** An exact copy: as is, with only whitespace changed (CRLF, trailing blanks), or a few lines upper-cased. */
function exactVariant(text: string, variant: ExactVariant, random: () => number): string {
  if (variant === 'verbatim') return text;
  const lines = text.split('\n');
  if (variant === 'whitespace') return lines.map((l) => (random() < 0.3 ? `${l}  \t` : l)).join('\r\n');
  const cased = lines.flatMap((l, i) => (/[a-z]/.test(l) ? [i] : []));
  const upper = Math.max(1, Math.round(lines.length * 0.05));
  for (let k = 0; k < upper && cased.length > 0; k++) {
    const i = cased[Math.floor(random() * cased.length)] as number;
    lines[i] = (lines[i] as string).toUpperCase();
  }
  return lines.join('\n');
}

/** One light edit of a near-copy, on its lines. */
function applyNearEdit(lines: string[], edit: NearEdit, random: () => number): void {
  const at = (n: number) => Math.floor(random() * n);
  const indentOf = (l: string) => /^\s*/.exec(l)?.[0] ?? '';
  const names = identifiersOf(lines.join('\n'));
  const name = () => names[at(names.length)] ?? 'value';
  const nonBlank = lines.flatMap((l, i) => (/[A-Za-z_]{3,}/.test(l) ? [i] : []));
  switch (edit) {
    case 'change-line': {
      const i = nonBlank[at(nonBlank.length)] ?? 0;
      const words = (lines[i] ?? '').match(/\b[A-Za-z_]\w{2,}\b/g) ?? [];
      const word = words[at(words.length)];
      if (word !== undefined) lines[i] = (lines[i] as string).replace(new RegExp(`\\b${word}\\b`), name());
      return;
    }
    case 'add-lines': {
      const i = at(lines.length + 1);
      const indent = indentOf(lines[i] ?? lines[i - 1] ?? '');
      const added = Array.from({ length: 1 + at(3) }, () => `${indent}${name()} = ${name()}(${name()})`);
      lines.splice(i, 0, ...added);
      return;
    }
    case 'remove-lines': {
      const count = Math.min(1 + at(3), lines.length - 1);
      lines.splice(at(lines.length - count + 1), count);
      return;
    }
    case 'rename-identifier': {
      const counts = new Map<string, number>();
      for (const w of names) counts.set(w, (counts.get(w) ?? 0) + 1);
      const candidates = [...counts].filter(([, c]) => c >= 2).map(([w]) => w);
      const old = candidates[at(candidates.length)];
      if (old === undefined) return;
      const pattern = new RegExp(`\\b${old}\\b`, 'g');
      for (let i = 0; i < lines.length; i++) lines[i] = (lines[i] as string).replace(pattern, `${old}_renamed`);
      return;
    }
    case 'add-comment': {
      const i = at(lines.length + 1);
      lines.splice(i, 0, `${indentOf(lines[i] ?? '')}# Note: keep this in step with the caller's expectations.`);
      return;
    }
  }
}

/** The installed files and the planted copies, shuffled: what the dedup methods run on. */
export interface PlantedCorpus {
  texts: string[];
  /** 'file' for an installed file, else the planted variant / 'near'. */
  role: string[];
  /** Index (in `texts`) of the original of a planted record; -1 for installed files. */
  originOf: Int32Array;
  path: string[];
}

export interface Planting {
  corpus: PlantedCorpus;
  /** Files (indices into the installed files) with an exact copy planted. */
  exactOriginals: number[];
  /** Files with a near-copy planted. */
  nearOriginals: number[];
  /** How often each edit was applied to the near-copies. */
  editsUsed: Map<NearEdit, number>;
}

/**
 * Plants `exactCount` exact copies (60% verbatim, 20% whitespace-only, 20% case-only) and `nearCount`
 * near-copies (3 edits each, of files with ≥ 20 non-blank lines) of distinct files, then shuffles all records.
 */
export function plantCopies(
  files: CorpusFile[],
  counts: { exactCount: number; nearCount: number },
  random: () => number,
): Planting {
  const { exactCount, nearCount } = counts;
  // Planted records: originals drawn without replacement, disjoint between exact and near copies.
  const order = sampleIndices(files.length, files.length, random);
  const lineCount = (t: string) => t.split('\n').filter((l) => l.trim() !== '').length;
  const nearOriginals: number[] = [];
  const exactOriginals: number[] = [];
  for (const i of order) {
    const text = (files[i] as CorpusFile).text;
    if (nearOriginals.length < nearCount && lineCount(text) >= 20) nearOriginals.push(i);
    else if (exactOriginals.length < exactCount && text.trim() !== '') exactOriginals.push(i);
  }
  const records: { text: string; role: string; origin: number; path: string }[] = files.map((f) => ({
    text: f.text,
    role: 'file',
    origin: -1,
    path: f.path,
  }));
  exactOriginals.forEach((o, k) => {
    // 60% verbatim, 20% whitespace-only, 20% case-only.
    const variant = exactVariants[k < 0.6 * exactCount ? 0 : k < 0.8 * exactCount ? 1 : 2] as ExactVariant;
    const f = files[o] as CorpusFile;
    records.push({ text: exactVariant(f.text, variant, random), role: `exact:${variant}`, origin: o, path: f.path });
  });
  const editsUsed = new Map<NearEdit, number>();
  for (const o of nearOriginals) {
    const f = files[o] as CorpusFile;
    let text = f.text;
    while (text === f.text) {
      const lines = f.text.split('\n');
      for (let e = 0; e < 3; e++) {
        const edit = nearEdits[Math.floor(random() * nearEdits.length)] as NearEdit;
        editsUsed.set(edit, (editsUsed.get(edit) ?? 0) + 1);
        applyNearEdit(lines, edit, random);
      }
      text = lines.join('\n');
    }
    records.push({ text, role: 'near', origin: o, path: f.path });
  }
  // Shuffle, so that a copy comes before its original about half the time (then the original is dropped).
  const perm = sampleIndices(records.length, records.length, random);
  const position = new Int32Array(records.length);
  perm.forEach((r, p) => {
    position[r] = p;
  });
  const shuffled = Array.from(perm, (r) => records[r] as (typeof records)[number]);
  const corpus: PlantedCorpus = {
    texts: shuffled.map((r) => r.text),
    role: shuffled.map((r) => r.role),
    originOf: Int32Array.from(shuffled, (r) => (r.origin < 0 ? -1 : (position[r.origin] as number))),
    path: shuffled.map((r) => r.path),
  };
  return { corpus, exactOriginals, nearOriginals, editsUsed };
}
