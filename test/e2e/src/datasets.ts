import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@sift/launcher';
import { markdownSentences } from '../../../models/builders/markdown-prose.js';

/**
 * A crawl of `count` documents of 200 words from a 5,000-word vocabulary, every 20th a copy of the one
 * before with a word appended (a MinHash near-duplicate): `count / 20` planted.
 */
export function writeCrawl(path: string, count: number): void {
  let seed = 5;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    docs.push(
      i % 20 === 19
        ? `${docs[i - 1]} appended`
        : Array.from({ length: 200 }, () => vocab[Math.floor(rand() * vocab.length)]).join(' '),
    );
  }
  writeFileSync(path, docs.map((text, i) => JSON.stringify({ id: `doc-${i}`, text })).join('\n'));
}

/** Prose of the README files of installed packages, in windows of about `bytes` bytes. */
export function readmeTexts(count: number, bytes: number, skip = 0): string[] {
  const sentences: string[] = [];
  const root = join(repoRoot, 'node_modules');
  for (const pkg of readdirSync(root).sort()) {
    const path = join(root, pkg, 'README.md');
    if (!pkg.startsWith('.') && existsSync(path)) sentences.push(...markdownSentences(readFileSync(path, 'utf8')));
    if (sentences.join(' ').length > (count + skip + 1) * bytes) break;
  }
  const all = sentences.join(' ');
  return Array.from({ length: count }, (_, i) => all.slice((skip + i) * bytes, (skip + i + 1) * bytes));
}

/** Real source files: the JavaScript of an installed npm package (grpc-js), one file per record. */
export const grpcJsBuild = join(repoRoot, 'node_modules/@grpc/grpc-js/build/src');

/** The `.js` files of `grpcJsBuild` in name order, as records of `path` (the file name) and `content`. */
export function grpcJsSources(): { path: string; content: string }[] {
  return readdirSync(grpcJsBuild)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => ({ path: f, content: readFileSync(join(grpcJsBuild, f), 'utf8') }));
}
