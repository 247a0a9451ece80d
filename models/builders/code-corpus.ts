/**
 * The source-code corpus the `code-ngram` recipe fits on: JavaScript/TypeScript inside this repository's
 * node_modules, plus the Python standard library and Debian Python packages under /usr/lib/python3* when
 * the machine has them. Selection is deterministic for a given set of installed files: sorted paths, at
 * most a fixed number of evenly spaced files per package, then evenly spaced down to a total cap, with
 * minified/bundled and oversized files skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { evenlySpaced, listFiles, npmPackageOf } from './corpus-files.js';

/** One corpus document. */
export interface SourceFile {
  readonly language: 'javascript' | 'typescript' | 'python';
  /** Path as recorded in the manifest: `node_modules/...` or `/usr/lib/python3.x/...`. */
  readonly path: string;
  readonly text: string;
}

/** Selection limits (all recorded in the manifest). */
export const corpusLimits = {
  perPackage: 40,
  javascriptTotal: 2000,
  pythonTotal: 1000,
  minBytes: 200,
  maxBytes: 200_000,
  maxLineLength: 1000,
  maxMeanLineLength: 100,
} as const;

const JS_TS = /\.(?:[cm]?js|jsx|[cm]?ts|tsx)$/;
const MINIFIED_NAME = /[.-]min\.[cm]?js$/;

/** Readable, not minified, not oversized: worth learning identifiers from. */
function readSource(path: string): string | undefined {
  const size = statSync(path).size;
  if (size < corpusLimits.minBytes || size > corpusLimits.maxBytes) return undefined;
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  let longest = 0;
  for (const line of lines) longest = Math.max(longest, line.length);
  if (longest > corpusLimits.maxLineLength || text.length / lines.length > corpusLimits.maxMeanLineLength) {
    return undefined;
  }
  return text;
}

/** Groups sorted paths by `groupOf`, keeps `perGroup` evenly spaced files of each, in path order. */
function capPerGroup(paths: readonly string[], groupOf: (p: string) => string, perGroup: number): string[] {
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const g = groupOf(p);
    const list = groups.get(g);
    if (list) list.push(p);
    else groups.set(g, [p]);
  }
  const kept: string[] = [];
  for (const list of groups.values()) kept.push(...evenlySpaced(list, perGroup));
  return kept.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Readable files among `candidates` (absolute path of each given by `abs`), evenly spaced down to `total`. */
function pickReadable(candidates: readonly string[], abs: (p: string) => string, total: number): [string, string][] {
  const readable: [string, string][] = [];
  for (const p of candidates) {
    const text = readSource(abs(p));
    if (text !== undefined) readable.push([p, text]);
  }
  return evenlySpaced(readable, total);
}

/** The corpus and a description of where it came from. */
export function codeCorpus(repoRoot: string): { files: SourceFile[]; pythonRoots: string[] } {
  const nodeModules = join(repoRoot, 'node_modules');
  const jsCandidates = capPerGroup(
    listFiles(nodeModules, (n) => JS_TS.test(n) && !MINIFIED_NAME.test(n)),
    npmPackageOf,
    corpusLimits.perPackage,
  );
  const files: SourceFile[] = pickReadable(jsCandidates, (p) => join(nodeModules, p), corpusLimits.javascriptTotal).map(
    ([p, text]) => ({
      language: /\.[cm]?tsx?$/.test(p) ? 'typescript' : 'javascript',
      path: `node_modules/${p}`,
      text,
    }),
  );

  let libDirs: string[] = [];
  try {
    libDirs = readdirSync('/usr/lib').filter((d) => /^python3(?:\.\d+)?$/.test(d));
  } catch {
    // No /usr/lib: no Python part.
  }
  const pythonRoots = libDirs.sort().map((d) => `/usr/lib/${d}`);
  const pyPaths: string[] = [];
  for (const root of pythonRoots) {
    for (const p of listFiles(root, (n) => n.endsWith('.py'))) pyPaths.push(`${root}/${p}`);
  }
  // Group by top-level module, looking through dist-packages/site-packages to the package itself.
  const pythonGroup = (p: string) => {
    const parts = p.split('/').slice(4);
    const i = parts[0] === 'dist-packages' || parts[0] === 'site-packages' ? 1 : 0;
    return `${p.split('/')[3]}/${parts.slice(0, i + 1).join('/')}`;
  };
  const pyCandidates = capPerGroup(pyPaths, pythonGroup, corpusLimits.perPackage);
  for (const [path, text] of pickReadable(pyCandidates, (p) => p, corpusLimits.pythonTotal)) {
    files.push({ language: 'python', path, text });
  }
  return { files, pythonRoots };
}
