/**
 * The demo's curation corpus: real English prose, one record per paragraph-sized chunk of sentences, from
 * the README files of the npm packages installed in node_modules (the only English text a fresh machine is
 * sure to have). Packages repeat each other (licence boilerplate, forks, several versions of one README),
 * so the corpus already holds real near-duplicates; a few lightly edited copies are planted on top so the
 * demo can show they are found.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { listFiles, npmPackageOf } from '../models/builders/corpus-files.js';
import { markdownSentences } from '../models/builders/markdown-prose.js';

export interface DemoCorpus {
  path: string;
  records: number;
  planted: { id: string; of: string }[];
}

export async function writeDemoCorpus(repoRoot: string, path: string, maxRecords = 4000): Promise<DemoCorpus> {
  const root = join(repoRoot, 'node_modules');
  const readmes = listFiles(root, (name) => /^readme\.md$/i.test(name));
  const records: { id: string; package: string; text: string }[] = [];
  for (const file of readmes) {
    const sentences = markdownSentences(readFileSync(join(root, file), 'utf8')).filter(
      (s) => s.split(/\s+/).length >= 6,
    );
    for (let i = 0; i + 2 <= sentences.length && records.length < maxRecords; i += 2) {
      records.push({
        id: `${file.replace(/\/readme\.md$/i, '')}#${i / 2}`,
        package: npmPackageOf(file),
        text: sentences.slice(i, i + 2).join(' '),
      });
    }
    if (records.length >= maxRecords) break;
  }
  const planted: { id: string; of: string }[] = [];
  for (let i = 0; i < records.length && planted.length < 40; i += Math.floor(records.length / 40)) {
    const original = records[i] as (typeof records)[number];
    const id = `${original.id}~copy`;
    records.push({ id, package: 'mirror', text: original.text.replace(/\bthe\b/, 'this').replace(/\.$/, '!') });
    planted.push({ id, of: original.id });
  }
  const lines = records.map((r) => `${JSON.stringify(r)}\n`);
  await pipeline(Readable.from(lines), createGzip(), createWriteStream(path));
  return { path, records: records.length, planted };
}
