/**
 * Deterministic file selection for the recipes' corpora: what a fresh machine with only Node and this
 * repository's npm packages has, listed in a fixed order so every rebuild sees the same files.
 */
import { type Dirent, existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * Files under `root` whose name passes `accept`, as sorted paths relative to `root` (`/`-separated,
 * compared by UTF-16 code units, not locale). Symbolic links are never followed (npm workspaces link the
 * repository's own packages into node_modules, and those change with every commit) and names starting
 * with `.` are skipped (caches, `.bin`).
 */
export function listFiles(root: string, accept: (name: string) => boolean): string[] {
  const out: string[] = [];
  if (!existsSync(root)) return out;
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && accept(entry.name)) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `cap` items spread evenly over `items` (indices floor(i * n / cap)), keeping their order; all if n <= cap. */
export function evenlySpaced<T>(items: readonly T[], cap: number): T[] {
  if (items.length <= cap) return [...items];
  return Array.from({ length: cap }, (_, i) => items[Math.floor((i * items.length) / cap)]!);
}

/**
 * The npm package a node_modules-relative path belongs to (`@scope/name` or `name`, the innermost one
 * for nested node_modules), used to keep one large package from dominating a corpus.
 */
export function npmPackageOf(path: string): string {
  const parts = path.split('/');
  let start = 0;
  for (let i = 0; i < parts.length; i++) if (parts[i] === 'node_modules') start = i + 1;
  const first = parts[start] ?? '';
  return first.startsWith('@') ? `${first}/${parts[start + 1] ?? ''}` : first;
}
