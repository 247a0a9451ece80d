/**
 * The code both the dedup and the SCIP sections run on: Python files installed under /usr/lib/python3*, or
 * JavaScript from the repository's node_modules on a machine without Python.
 */
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { evenlySpaced, listFiles } from '../../models/builders/corpus-files.js';

export interface CorpusFile {
  path: string;
  text: string;
}

export interface CodeCorpus {
  files: CorpusFile[];
  language: 'python' | 'javascript';
  /** Files eligible before the even spacing. */
  listed: number;
  roots: string[];
}

/**
 * A reader of the corpus that reads it on its first call and returns the same corpus after, so the dedup
 * section's time includes reading the files and the SCIP section reuses them.
 */
export function codeCorpusReader(maxFiles: number, repoRoot: string): () => CodeCorpus {
  let read: CodeCorpus | undefined;
  return () => {
    read ??= readCodeCorpus(maxFiles, repoRoot);
    return read;
  };
}

/** Python under /usr/lib/python3*, tests folders skipped, ≤ 200 KB, evenly spaced over the sorted list. */
function readCodeCorpus(maxFiles: number, repoRoot: string): CodeCorpus {
  const isTestDir = /(^|\/)(tests?|testing|idle_test)\//;
  const pick = (root: string, ext: string) =>
    listFiles(root, (name) => name.endsWith(ext))
      .filter((p) => !isTestDir.test(p))
      .map((p) => join(root, p))
      .filter((p) => {
        const size = statSync(p).size;
        return size <= 200_000;
      });
  const roots = readdirSync('/usr/lib')
    .filter((d) => /^python3(\.\d+)?$/.test(d) && !lstatSync(join('/usr/lib', d)).isSymbolicLink())
    .map((d) => join('/usr/lib', d))
    .sort();
  let language: 'python' | 'javascript' = 'python';
  let paths = roots.flatMap((r) => pick(r, '.py'));
  if (paths.length === 0) {
    language = 'javascript';
    roots.splice(0, roots.length, join(repoRoot, 'node_modules'));
    paths = pick(roots[0] as string, '.js');
  }
  const files = evenlySpaced(paths, maxFiles).map((path) => ({ path, text: readFileSync(path, 'utf8') }));
  return { files, language, listed: paths.length, roots };
}
