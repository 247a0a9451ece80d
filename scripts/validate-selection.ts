/**
 * Validation of the selection methods on real data found on the machine (issue 5, "Validation on real
 * data"). One command, three parts, a Markdown report on stdout (docs/selection-validation.md quotes it):
 *
 * 1. Dedup (validation/dedup.ts). Python files installed under /usr/lib/python3* (tests folders skipped;
 *    JavaScript from node_modules when there is no Python), plus planted exact copies (verbatim,
 *    whitespace-only and case-only variants) and lightly edited near-copies, shuffled in. Recall of exact
 *    dedup on the exact copies and of MinHash LSH on the near-copies; every drop is classified as a planted
 *    pair found, a duplicate already present among the installed files, or other.
 * 2. SCIP (validation/scip.ts). Corrupted copies (one and eight edits of each kind) of a sample of those
 *    files are embedded with code-ngram next to every original, clustered with spherical k-means, pruned
 *    with scipPrune; the share of corrupted files among the pruned rows is compared with the base rate, and
 *    corruptionShift reports how far corruption moved each file.
 * 3. Text quality (validation/text-quality.ts). Held-out English documents of byte-gpt's own sources
 *    (fortunes, WordNet glosses, man pages; held out by the recipe's hash so the model never trained on
 *    them): filter weights from byte-gpt perplexity, document scores, top 60% kept, byte-gpt bits per byte
 *    of kept vs dropped.
 *
 *   npx tsx scripts/validate-selection.ts [--files 3000] [--exact 150] [--near 150] [--scip-per-kind 100]
 *     [--docs-per-source 300] [--seed 1] [--lm byte-gpt] [--sections dedup,scip,text]
 *
 * `--lm` names the language model of part 3 (bpe-gpt: the same held-out split, read through its BPE
 * tokenizer); `--sections` runs only the parts named.
 */
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ModelStore, SessionCache } from '@sift/inference';
import { createLogger } from '@sift/kit';
import { codeCorpusReader } from './validation/code-corpus.js';
import { dedupSection } from './validation/dedup.js';
import { out, seconds } from './validation/report.js';
import { scipSection } from './validation/scip.js';
import { textSection } from './validation/text-quality.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
/** Installed code files read (evenly spaced over the sorted list). */
const maxFiles = flag('files', 3000);
/** Exact copies planted among them. */
const exactCount = flag('exact', 150);
/** Near-copies planted among them. */
const nearCount = flag('near', 150);
/** Files corrupted per corruption kind for SCIP. */
const scipPerKind = flag('scip-per-kind', 100);
/** English documents per source for the text-quality filter. */
const docsPerSource = flag('docs-per-source', 300);
const seed = flag('seed', 1);
const option = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
/** Language model of the text-quality part. */
const lm = option('lm', 'byte-gpt');
const sections = new Set(option('sections', 'dedup,scip,text').split(','));
const repoRoot = resolve(import.meta.dirname, '..');
const started = performance.now();

out('# Selection validation on real data');
out();
out(`- command: \`${['npx tsx scripts/validate-selection.ts', ...process.argv.slice(2)].join(' ')}\``);
out(`- date: ${new Date().toISOString()}; node ${process.version}`);
out(`- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
out(`- seed ${seed}`);
out();

const codeCorpus = codeCorpusReader(maxFiles, repoRoot);
const logger = createLogger('validate-selection', 'warn');
const store = new ModelStore(join(repoRoot, 'models'));
const sessions = new SessionCache({ provider: 'cpu', logger, intraOpThreads: 2 });
try {
  if (sections.has('dedup')) dedupSection(codeCorpus, { exactCount, nearCount, seed });
  if (sections.has('scip')) await scipSection(sessions, store, codeCorpus, { scipPerKind, seed });
  if (sections.has('text')) await textSection(sessions, store, { docsPerSource, seed, lm });
} finally {
  await sessions.close();
}
out(`Total: ${seconds(started)}.`);
