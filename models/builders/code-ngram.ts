/**
 * Recipe for `code-ngram/1`: latent semantic analysis (Deerwester et al. 1990, "Indexing by latent semantic
 * analysis") over hashed code n-grams.
 *
 * Each corpus file becomes a `code-ngrams` feature row x (sublinear tf 1 + ln tf in H = 8192 buckets), is
 * weighted by smoothed inverse document frequency idf_b = ln((1 + N)/(1 + df_b)) + 1 and L2-normalised;
 * a truncated SVD X ≈ U Σ Vᵀ (randomized subspace iteration, fixed seed) gives the D = 128 leading right
 * singular vectors. The graph computes embedding = (x ⊙ idf) V_D; the row normalisation is left out because
 * it only scales the output, and the service normalises embeddings anyway. Components are ordered by
 * singular value, so the first d < 128 outputs are the rank-d LSA embedding (matryoshka).
 */
import { join } from 'node:path';
import { CodeNgramsFeaturizer } from '@sift/featurizers';
import { encodeModel } from '@sift/inference/onnx-writer';
import { codeCorpus, corpusLimits } from './code-corpus.js';
import { type CsrMatrix, randomizedSvd } from './linalg.js';
import {
  float32Exact,
  logStep,
  recipeDigest,
  referenceValue,
  repoRoot,
  staleReason,
  writeModelFolder,
} from './model-files.js';

export const name = 'code-ngram';
export const version = '1';
export const modelDir = join(repoRoot, 'models', name, version);
export const requiredFiles = ['model.onnx', 'reference.json'] as const;

const BUCKETS = 8192;
const DIMENSIONS = 128;
const MAX_TOKENS = 2048;
const CHAR_NGRAM_MIN = 3;
const CHAR_NGRAM_MAX = 5;
const SVD = { oversample: 16, powerIterations: 2, seed: 20240917 } as const;

/** Inputs of `reference.json`. */
export const referenceTexts = [
  'function add(a, b) {\n  return a + b;\n}',
  'def read_file(path):\n    with open(path) as f:\n        return f.read()',
  'for (let i = 0; i < items.length; i++) totalPrice += items[i].unitPrice * items[i].quantity;',
];

const sources = [
  'models/builders/code-ngram.ts',
  'models/builders/code-corpus.ts',
  'models/builders/corpus-files.ts',
  'models/builders/linalg.ts',
  'models/builders/model-files.ts',
  'packages/inference/src/onnx-writer.ts',
  'packages/featurizers/src/code-ngrams.ts',
  'packages/featurizers/src/code-tokens.ts',
  'packages/featurizers/src/fnv1a.ts',
];

/** Digest of this recipe's sources (stored as provenance.recipeDigest). */
export function digest(): string {
  return recipeDigest(sources);
}

/** Why the built model must be rebuilt, or null when it is current. */
export function stale(): string | null {
  return staleReason(modelDir, digest(), requiredFiles);
}

/** Builds the model folder; returns file sizes and metrics for the build log. */
export function build(): { sizes: Record<string, number>; metrics: Record<string, number> } {
  const start = performance.now();
  const { files, pythonRoots } = codeCorpus(repoRoot);
  const counts = { javascript: 0, typescript: 0, python: 0 };
  for (const f of files) counts[f.language]++;
  logStep(name, start, `corpus: ${files.length} files ${JSON.stringify(counts)}`);

  const featurizer = new CodeNgramsFeaturizer({
    buckets: BUCKETS,
    maxTokens: MAX_TOKENS,
    charNgramMin: CHAR_NGRAM_MIN,
    charNgramMax: CHAR_NGRAM_MAX,
  });
  const rows = files.map((f) => featurizer.encode(f.text));
  const n = rows.length;
  const documentFrequency = new Float64Array(BUCKETS);
  let nnz = 0;
  let truncated = 0;
  for (const r of rows) {
    for (const b of r.buckets) documentFrequency[b] = documentFrequency[b]! + 1;
    nnz += r.buckets.length;
    if (r.truncated) truncated++;
  }
  const idf = Float32Array.from(documentFrequency, (df) => Math.log((1 + n) / (1 + df)) + 1);
  logStep(name, start, `features: ${nnz} non-zeros (${(nnz / n).toFixed(0)} per file), ${truncated} files truncated`);

  // TF-IDF rows, L2-normalised, as a CSR matrix.
  const rowStart = new Int32Array(n + 1);
  const colIndex = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let e = 0;
  rows.forEach((r, i) => {
    rowStart[i] = e;
    let norm = 0;
    for (let k = 0; k < r.buckets.length; k++) {
      const w = r.values[k]! * idf[r.buckets[k]!]!;
      colIndex[e + k] = r.buckets[k]!;
      values[e + k] = w;
      norm += w * w;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < r.buckets.length; k++) values[e + k] = values[e + k]! * inv;
    e += r.buckets.length;
  });
  rowStart[n] = e;
  const x: CsrMatrix = { rows: n, cols: BUCKETS, rowStart, colIndex, values };
  let frobenius = 0;
  for (const val of values) frobenius += val * val;

  const { singularValues, v } = randomizedSvd(x, DIMENSIONS, SVD);
  let captured = 0;
  for (const s of singularValues) captured += s * s;
  const explained = captured / frobenius;
  logStep(
    name,
    start,
    `SVD: σ1 = ${singularValues[0]!.toFixed(3)}, σ${DIMENSIONS} = ${singularValues[DIMENSIONS - 1]!.toFixed(3)}, ${(100 * explained).toFixed(1)}% of the squared norm`,
  );

  const components = Float32Array.from(v);
  const onnx = encodeModel({
    graphName: 'code_ngram_lsa',
    docString:
      'LSA over hashed code n-grams: (features * idf) @ V, V = top right singular vectors of the TF-IDF corpus matrix.',
    inputs: [{ name: 'features', dtype: 'float32', shape: ['batch', BUCKETS], doc: 'code-ngrams buckets, 1 + ln tf' }],
    outputs: [{ name: 'embedding', dtype: 'float32', shape: ['batch', DIMENSIONS] }],
    initializers: [
      { name: 'idf', dtype: 'float32', dims: [BUCKETS], data: idf },
      { name: 'components', dtype: 'float32', dims: [BUCKETS, DIMENSIONS], data: components },
    ],
    nodes: [
      { op: 'Mul', inputs: ['features', 'idf'], outputs: ['tfidf'] },
      { op: 'MatMul', inputs: ['tfidf', 'components'], outputs: ['embedding'] },
    ],
  });
  logStep(name, start, `graph: ${(onnx.byteLength / 1e6).toFixed(1)} MB`);

  // Reference outputs from the formula (float64 over the stored float32 inputs and parameters).
  const encoded = referenceTexts.map((t) => featurizer.encode(t));
  const dense = featurizer.collate(encoded).features!.data as Float32Array;
  const inputs = Array.from(dense, float32Exact);
  const expected: number[] = [];
  encoded.forEach((_, row) => {
    for (let j = 0; j < DIMENSIONS; j++) {
      let s = 0;
      for (let b = 0; b < BUCKETS; b++) {
        const xb = inputs[row * BUCKETS + b]!;
        if (xb !== 0) s += xb * idf[b]! * components[b * DIMENSIONS + j]!;
      }
      expected.push(referenceValue(s));
    }
  });
  const reference = {
    cases: [
      {
        graph: 'model',
        inputs: { features: { dtype: 'float32', dims: [encoded.length, BUCKETS], data: inputs } },
        outputs: { embedding: { dtype: 'float32', dims: [encoded.length, DIMENSIONS], data: expected } },
        tolerance: 1e-4,
      },
    ],
  };

  const metrics = {
    corpusFiles: n,
    javascriptFiles: counts.javascript,
    typescriptFiles: counts.typescript,
    pythonFiles: counts.python,
    truncatedFiles: truncated,
    meanNonZeroBuckets: Number((nnz / n).toFixed(1)),
    explainedSquaredNorm: Number(explained.toFixed(4)),
    firstSingularValue: Number(singularValues[0]!.toFixed(4)),
    lastSingularValue: Number(singularValues[DIMENSIONS - 1]!.toFixed(4)),
  };
  const pythonPart =
    pythonRoots.length > 0
      ? `${counts.python} Python files from ${pythonRoots.join(', ')} (the Debian python3 packages present on the build machine)`
      : 'no Python files (no /usr/lib/python3* on the build machine)';
  const manifest = {
    name,
    version,
    task: 'code-embedding',
    description: 'LSA code embedding: TF-IDF of hashed identifier/char n-grams projected on 128 singular vectors',
    graphs: { model: 'model.onnx' },
    inputs: [{ name: 'features', dtype: 'float32', shape: ['batch', BUCKETS] }],
    outputs: [{ name: 'embedding', dtype: 'float32', shape: ['batch', DIMENSIONS] }],
    preprocessing: {
      kind: 'code-ngrams',
      buckets: BUCKETS,
      maxTokens: MAX_TOKENS,
      charNgramMin: CHAR_NGRAM_MIN,
      charNgramMax: CHAR_NGRAM_MAX,
      hash: 'fnv1a32',
      features:
        'u:<sub-word> and u:<identifier> when it splits, b:<sub-word bigram>, c:<char n-gram of <sub-word>>, ' +
        'o:<operator>; bucket = fnv1a32(utf8) mod buckets; value 1 + ln(count) (packages/featurizers/src/code-ngrams.ts)',
    },
    embedding: { dimensions: DIMENSIONS, matryoshka: true },
    provenance: {
      recipe: 'models/builders/code-ngram.ts (run by models/builders/build-defaults.ts)',
      data:
        `${n} source files: ${counts.javascript + counts.typescript} JavaScript/TypeScript files (${counts.javascript} JS, ` +
        `${counts.typescript} TS) from the npm packages installed in this repository's node_modules (package-lock.json), ` +
        `and ${pythonPart}. Selection: sorted paths, symlinks not followed, minified files (name *.min.js, a line over ` +
        `${corpusLimits.maxLineLength} chars or mean line over ${corpusLimits.maxMeanLineLength}) and files outside ` +
        `${corpusLimits.minBytes}..${corpusLimits.maxBytes} bytes skipped, at most ${corpusLimits.perPackage} evenly ` +
        `spaced files per npm package / Python top-level module, then evenly spaced down to ` +
        `${corpusLimits.javascriptTotal} JS/TS and ${corpusLimits.pythonTotal} Python files; first ${MAX_TOKENS} tokens of each.`,
      licence:
        'Projection fitted on, not redistributing, open-source code: npm packages under permissive licences (mostly ' +
        'MIT, Apache-2.0, BSD, ISC; a few MPL-2.0, Unlicense, CC0) and Python under the PSF licence; the stored ' +
        'idf and singular vectors are corpus statistics that carry no source text.',
      createdAt: new Date().toISOString(),
      method: {
        paper: 'Deerwester et al. 1990 (LSA); Halko, Martinsson, Tropp 2011 (randomized SVD, Alg. 4.3 + 5.1)',
        weighting: 'tf-idf: (1 + ln tf) * (ln((1 + N) / (1 + df)) + 1), rows L2-normalised for the fit',
        svd: `rank ${DIMENSIONS}, oversampling ${SVD.oversample}, ${SVD.powerIterations} power iterations, seed ${SVD.seed}; components by descending singular value, each with its largest entry positive`,
        graph: 'embedding = (features * idf) @ components; not normalised (the service normalises)',
        pythonRoots,
      },
      recipeDigest: digest(),
    },
    metrics,
  };
  const sizes = writeModelFolder(
    modelDir,
    { 'model.onnx': onnx, 'reference.json': `${JSON.stringify(reference)}\n` },
    manifest,
  );
  logStep(name, start, `wrote ${modelDir}`);
  return { sizes, metrics };
}
