/**
 * English documents of byte-gpt's own sources (fortunes, WordNet glosses, man pages), only those the byte-gpt
 * recipe held out of training by its hash, so the model never saw them.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** byte-gpt's held-out rule (models/recipes/data_prep.py): sha1("source:id") first 4 bytes % 20 == 0. */
function heldOut(source: string, id: string): boolean {
  return createHash('sha1').update(`${source}:${id}`).digest().readUInt32BE(0) % 20 === 0;
}

/** Whole held-out fortunes, consecutive ones of one file joined until a document has ≥ 5 lines. */
export function fortuneDocuments(): string[] {
  const root = '/usr/share/games/fortunes';
  if (!existsSync(root)) return [];
  const docs: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name);
    if (name.includes('.') || name === 'ascii-art' || lstatSync(path).isSymbolicLink()) continue;
    let current: string[] = [];
    readFileSync(path, 'utf8')
      .split(/^%\s*$/m)
      .forEach((chunk, i) => {
        const text = chunk.replace(/^\n+|\n+$/g, '');
        if (text.trim() === '' || !heldOut('fortunes', `${name}/${i}`)) return;
        const lines = text.split('\n');
        if (lines.length > 20) return;
        current.push(...lines);
        if (current.length >= 5) {
          docs.push(current.join('\n'));
          current = [];
        }
      });
  }
  return docs;
}

/** Held-out WordNet synsets as "lemma, lemma: gloss" lines, 8 per document. */
export function wordnetDocuments(): string[] {
  const lines: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    const path = `/usr/share/wordnet/data.${pos}`;
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.startsWith('  ') || !line.includes(' | ')) continue;
      const [head, gloss] = line.split(' | ', 2) as [string, string];
      const fields = head.split(' ');
      if (!heldOut('wordnet', `${pos}/${fields[0]}`)) continue;
      const count = Number.parseInt(fields[3] ?? '0', 16);
      const words = Array.from({ length: count }, (_, k) =>
        (fields[4 + 2 * k] ?? '').replace(/_/g, ' ').replace(/\([a-z]+\)$/, ''),
      );
      lines.push(`${words.join(', ')}: ${gloss.trim()}`);
    }
  }
  const docs: string[] = [];
  for (let i = 0; i + 8 <= lines.length; i += 8) docs.push(lines.slice(i, i + 8).join('\n'));
  return docs;
}

/** Text of a man(7) page with the roff requests and escapes removed (roughly); undefined for mdoc and .so. */
function manText(source: string): string | undefined {
  if (/^\.(so|Dd|Sh)\s/m.test(source)) return undefined;
  const inline = (s: string) =>
    s
      .replace(/\\".*$/, '')
      .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
      .replace(/\\\((em|en)/g, '-')
      .replace(/\\\(bu/g, '*')
      .replace(/\\\(..|\\\[[^\]]*\]|\\\*(\[[^\]]*\]|\(..|.)|\\s[+-]?\d/g, '')
      .replace(/\\[-e&|^%]/g, (m) => ({ '\\-': '-', '\\e': '\\' })[m] ?? '')
      .replace(/\\(.)/g, '$1');
  const args = (rest: string) => (rest.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"|"$/g, ''));
  const lines: string[] = [];
  let skipUntil: string | undefined;
  for (const line of source.split('\n')) {
    if (skipUntil !== undefined) {
      if (line.startsWith(skipUntil)) skipUntil = undefined;
      continue;
    }
    const request = /^[.'][ \t]*(\S+)[ \t]*(.*)$/.exec(line);
    if (request === null) {
      lines.push(inline(line));
      continue;
    }
    const [, name, rest = ''] = request;
    if (name === 'de' || name === 'ig') skipUntil = '..';
    else if (name === 'TS') skipUntil = '.TE';
    else if (name !== undefined && ['B', 'I', 'SH', 'SS', 'SM', 'SB'].includes(name))
      lines.push(inline(args(rest).join(' ')));
    else if (name !== undefined && /^[BIR]{2}$/.test(name)) lines.push(inline(args(rest).join('')));
  }
  return lines.join('\n');
}

/** Held-out English man pages (sections 1–8), two 10-line chunks each: the start and the middle. */
export function manDocuments(): string[] {
  const docs: string[] = [];
  for (let s = 1; s <= 8; s++) {
    const dir = `/usr/share/man/man${s}`;
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (!name.endsWith('.gz') || lstatSync(path).isSymbolicLink() || !heldOut('man', `man${s}/${name}`)) continue;
      let text: string | undefined;
      try {
        text = manText(gunzipSync(readFileSync(path)).toString('utf8'));
      } catch {
        continue;
      }
      const lines = (text ?? '').split('\n').filter((l) => l.trim() !== '');
      const chunks = Math.floor(lines.length / 10);
      for (const c of chunks === 0 ? [] : [...new Set([0, Math.floor(chunks / 2)])]) {
        docs.push(lines.slice(c * 10, c * 10 + 10).join('\n'));
      }
    }
  }
  return docs;
}
