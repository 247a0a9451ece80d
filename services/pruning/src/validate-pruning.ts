/**
 * Checks the pruning method end to end on one of the project's decoders (models/byte-gpt, which reads
 * bytes and outputs its hidden states, or models/bpe-gpt, a byte-level BPE model whose layers are found by
 * graph analysis): does the block the angular distance picks actually cost the least, and how much does
 * the least-squares bridge win back?
 *
 *   npx tsx services/pruning/src/validate-pruning.ts [--model models/byte-gpt/1] [--threads 2]
 *
 * Text: English prose from the README files of the installed npm packages (code, tables, headings and
 * links stripped), split by package into calibration and held-out evaluation halves, so no evaluation
 * package is seen during calibration. (The byte-gpt recipe keeps its held-out split outside the model
 * folder, so it is not used here.)
 *
 * Steps: capture the residual stream x^0..x^L on 16,384 calibration tokens in windows of the model's
 * context; angular distance on final tokens (the model is causal, so position t of a window is the final
 * token of the prefix ending at t: the ends of each window's four quarters give four samples of different
 * lengths); then for every block with n = 1..L/2 that keeps the final layer, cut it out, measure held-out
 * bits per byte (the same 8,192 bytes of text for every model), fit the bridge x^l T ≈ x^(l+n) on 8,192
 * calibration tokens, insert it and measure again. Prints a table and the rank correlation between
 * distance and loss increase. About 60-95 s on 2 cores.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { contextLengthOf, decoderFeeds, ModelStore, scoreText, textCodecOf } from '@sift/inference';
import { spearman } from '@sift/numeric';
import * as ort from 'onnxruntime-node';
import { externalByteCount } from './adapters/onnx-external-data.js';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  exposeOutputs,
  findLayerBoundaries,
  findOutputProjection,
  foldLinearMap,
  insertLinearMap,
  type OnnxModel,
  removeBlock,
} from './adapters/onnx-graph.js';
import { angularDistanceMatrix, bestBlock, blockInfluence, distanceAt } from './domain/angular-distance.js';
import { BlockBridgeFit, RidgeAccumulator } from './domain/least-squares.js';
import { readmeCalibrationAndEvaluation } from './readme-corpus.js';

const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: join(repoRoot, 'models/byte-gpt/1') },
    threads: { type: 'string', default: '2' },
  },
});
const modelDir = resolve(args.model);
const stored = await new ModelStore(dirname(dirname(modelDir))).resolve(
  basename(dirname(modelDir)),
  basename(modelDir),
);
const codec = await textCodecOf(stored);
const context = contextLengthOf(stored);
const calibrationWindows = Math.ceil(16384 / context);
const evaluationBytes = 8192;
const samplePositions = [1, 2, 3, 4].map((q) => (q * context) / 4 - 1);
const fitWindows = Math.ceil(8192 / context); // 8192 tokens for each least-squares fit
const ridgeAlpha = 1e-3; // relative to the mean diagonal of MᵀM, the contract's default
const batch = 16;

// ---------------------------------------------------------------- model runs

const threads = Number(args.threads);

async function openSession(model: OnnxModel | Uint8Array): Promise<ort.InferenceSession> {
  const bytes = model instanceof Uint8Array ? model : encodeOnnxModel(model);
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}

/** Held-out bits per byte: non-overlapping windows of `context` bytes, each predicting its bytes 2..n. */
async function bitsPerByte(model: OnnxModel | Uint8Array, text: string): Promise<number> {
  const session = await openSession(model);
  try {
    return (await scoreText(session, [text], { contextLength: context, codec, batchSize: batch })).bitsPerByte;
  } finally {
    await session.release();
  }
}

/** The residual stream at every boundary for every token of the calibration windows: [L+1][rows × d]. */
async function captureStreams(model: OnnxModel, names: readonly string[], windows: readonly Int32Array[]) {
  const session = await openSession(exposeOutputs(model, names));
  const states: Float32Array[] = [];
  let dim = 0;
  try {
    for (let b0 = 0; b0 < windows.length; b0 += batch) {
      const group = windows.slice(b0, b0 + batch);
      // All outputs, picked by name: onnxruntime-node 1.23.2 keys a requested subset by the wrong names.
      const out = await session.run(decoderFeeds(session, group, codec.padId));
      names.forEach((name, k) => {
        const t = out[name]!;
        dim = Number(t.dims.at(-1));
        const data = t.data as Float32Array;
        if (!states[k]) states[k] = new Float32Array(windows.length * context * dim);
        states[k].set(data, b0 * context * dim);
      });
    }
  } finally {
    await session.release();
  }
  return { states, dim, rows: windows.length * context };
}

/** Rows `positions` of every window, from all-token states. */
function selectRows(
  states: readonly Float32Array[],
  dim: number,
  windows: number,
  positions: readonly number[],
): Float32Array[] {
  return states.map((s) => {
    const out = new Float32Array(windows * positions.length * dim);
    let r = 0;
    for (let w = 0; w < windows; w++) {
      for (const p of positions) {
        out.set(s.subarray((w * context + p) * dim, (w * context + p + 1) * dim), r * dim);
        r++;
      }
    }
    return out;
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const sourceBytes = readFileSync(join(modelDir, 'model.onnx'));
  const model = decodeOnnxModel(sourceBytes);
  if (externalByteCount(model) > 0) {
    throw new Error(`${modelDir}: weights in external data; this validation opens single-file graphs from memory`);
  }
  const boundaries = findLayerBoundaries(model);
  const layers = boundaries.layerCount;
  const text = readmeCalibrationAndEvaluation({
    nodeModules: join(repoRoot, 'node_modules'),
    context,
    calibrationWindows,
    evaluationBytes,
    codec,
  });
  const evaluation = text.evaluation;
  console.log(
    `model ${modelDir}: ${layers} layers, reads ${codec.kind === 'bytes' ? 'UTF-8 bytes' : `a ${codec.vocabSize}-token tokenizer.json`}; ` +
      `boundaries ${boundaries.tensors[0]} .. ${boundaries.tensors[layers]}`,
  );
  console.log(
    `text: README prose of ${text.packages[0]} packages for calibration (${calibrationWindows} × ${context} tokens), ` +
      `${text.packages[1]} others held out (${evaluationBytes} bytes)`,
  );

  const base = await bitsPerByte(sourceBytes, evaluation);
  console.log(`baseline held-out bits/byte ${base.toFixed(4)} (${elapsed()})`);

  // ReplaceMe's fold needs M, the output projection of the layer before the cut (x^l = Y + M), for l >= 1.
  const projections = boundaries.tensors.map((x, l) => {
    const search = l === 0 || l === layers ? undefined : findOutputProjection(model, x);
    return search?.found ? search.projection : undefined;
  });
  const projectionNames = projections.flatMap((p) => (p ? [p.projection] : []));
  const captured = await captureStreams(model, [...boundaries.tensors, ...projectionNames], text.calibration);
  const projectionStates = (l: number) => {
    const p = projections[l];
    return p ? captured.states[layers + 1 + projectionNames.indexOf(p.projection)] : undefined;
  };
  const { dim } = captured;
  const streams = captured.states.slice(0, layers + 1); // x^0..x^L; the projections follow
  const finalTokens = selectRows(streams, dim, calibrationWindows, samplePositions);
  const distances = angularDistanceMatrix({
    states: finalTokens,
    rows: calibrationWindows * samplePositions.length,
    dim,
  });
  const bi = blockInfluence({ states: streams, rows: captured.rows, dim });
  console.log(`captured ${captured.rows} calibration tokens × ${layers + 1} boundaries, d = ${dim} (${elapsed()})`);

  interface Row {
    l: number;
    n: number;
    distance: number;
    unhealed: number;
    healed: number;
    /** Healed with T folded into the projection before the cut; NaN where there is none (l = 0). */
    folded: number;
  }
  const rows: Row[] = [];
  const fitRows = fitWindows * context;
  for (let n = 1; n <= Math.floor(layers / 2); n++) {
    for (let l = 0; l + n <= layers - 1; l++) {
      const pruned = removeBlock(model, l, n, boundaries);
      const unhealed = await bitsPerByte(pruned.model, evaluation);
      const fit = new BlockBridgeFit(dim);
      fit.add(
        captured.states[l]!.subarray(0, fitRows * dim),
        captured.states[l + n]!.subarray(0, fitRows * dim),
        fitRows,
      );
      const t = fit.solve({ alpha: ridgeAlpha });
      const healedModel = insertLinearMap(pruned.model, pruned.bridgedTensor, t, [dim, dim]).model;
      const healed = await bitsPerByte(healedModel, evaluation);
      let folded = Number.NaN;
      const projection = projections[l];
      const m = projectionStates(l);
      if (projection && m) {
        // Fit M T ≈ x^(l+n) − Y with Y = x^l − M (METHODS.md, ReplaceMe).
        const xl = captured.states[l]!;
        const target = captured.states[l + n]!.slice(0, fitRows * dim);
        for (let i = 0; i < target.length; i++) target[i]! += m[i]! - xl[i]!;
        const acc = new RidgeAccumulator(dim, dim);
        acc.add(m.subarray(0, fitRows * dim), target, fitRows);
        const foldedModel = foldLinearMap(pruned.model, projection, acc.solve({ alpha: ridgeAlpha }));
        folded = await bitsPerByte(foldedModel, evaluation);
      }
      rows.push({ l, n, distance: distanceAt(distances, l, n), unhealed, healed, folded });
    }
    console.log(`n = ${n} done (${elapsed()})`);
  }

  const chosen = new Map<number, number>();
  for (let n = 1; n <= Math.floor(layers / 2); n++) chosen.set(n, bestBlock(distances, n)!.startLayer);
  console.log('');
  console.log(
    `held-out bits/byte: baseline ${base.toFixed(4)}; Δ = increase over baseline; ridge α = ${ridgeAlpha} (relative)`,
  );
  console.log('  n  layers   angular  BI(n=1)  Δ unhealed  Δ inserted  recovered  Δ folded  recovered  rank by Δ');
  for (const r of rows) {
    const sameN = rows.filter((s) => s.n === r.n);
    const rank = sameN.filter((s) => s.unhealed < r.unhealed).length + 1;
    const recovered = (v: number) =>
      Number.isFinite(v) ? `${((100 * (r.unhealed - v)) / (r.unhealed - base)).toFixed(0)}%` : '—';
    const delta = (v: number) => (Number.isFinite(v) ? (v - base).toFixed(4) : '—');
    const mark = chosen.get(r.n) === r.l ? ' <- l*(n)' : '';
    console.log(
      `  ${r.n}  ${`${r.l}..${r.l + r.n - 1}`.padEnd(6)}  ${r.distance.toFixed(4)}   ${r.n === 1 ? bi[r.l]!.toFixed(4) : '      '}  ` +
        `${delta(r.unhealed).padStart(10)}  ${delta(r.healed).padStart(10)}  ${recovered(r.healed).padStart(9)}  ` +
        `${delta(r.folded).padStart(8)}  ${recovered(r.folded).padStart(9)}  ${String(rank).padStart(9)}${mark}`,
    );
  }
  console.log('');
  const all = spearman(
    rows.map((r) => r.distance),
    rows.map((r) => r.unhealed - base),
  );
  console.log(`Spearman(angular distance, Δ unhealed) over all ${rows.length} blocks: ${all.toFixed(3)}`);
  for (let n = 1; n <= Math.floor(layers / 2); n++) {
    const sameN = rows.filter((r) => r.n === n);
    const rho = spearman(
      sameN.map((r) => r.distance),
      sameN.map((r) => r.unhealed),
    );
    const byLoss = [...sameN].sort((a, b) => a.unhealed - b.unhealed);
    const rank = byLoss.findIndex((r) => r.l === chosen.get(n)) + 1;
    console.log(
      `  n = ${n}: Spearman within n ${rho.toFixed(3)} (${sameN.length} blocks); l* = ${chosen.get(n)} is #${rank} by actual loss ` +
        `(cheapest: ${byLoss[0]!.l}..${byLoss[0]!.l + n - 1}); among the two cheapest: ${rank <= 2 ? 'yes' : 'no'}`,
    );
  }
  const single = rows.filter((r) => r.n === 1);
  console.log(
    `  ShortGPT BI vs Δ unhealed, n = 1: Spearman ${spearman(
      single.map((r) => bi[r.l]!),
      single.map((r) => r.unhealed),
    ).toFixed(3)}`,
  );
  const chosenRows = rows.filter((r) => chosen.get(r.n) === r.l);
  const meanRecovered =
    chosenRows.reduce((s, r) => s + (r.unhealed - r.healed) / (r.unhealed - base), 0) / chosenRows.length;
  const foldable = chosenRows.filter((r) => Number.isFinite(r.folded));
  const meanFolded =
    foldable.reduce((s, r) => s + (r.unhealed - r.folded) / (r.unhealed - base), 0) / Math.max(1, foldable.length);
  console.log(
    `healing recovers on average ${(100 * meanRecovered).toFixed(0)}% (inserted MatMul, ${dim * dim} parameters) and ` +
      `${(100 * meanFolded).toFixed(0)}% (folded into the projection before the cut, no parameters) of the loss ` +
      'increase of the chosen blocks',
  );
  console.log(
    `source model bytes unchanged: ${
      createHash('sha256').update(sourceBytes).digest('hex') ===
      createHash('sha256')
        .update(readFileSync(join(modelDir, 'model.onnx')))
        .digest('hex')
    }`,
  );
  console.log(`total ${elapsed()}`);
}

await main();
