/**
 * Costs of the layer-pruning service on byte-gpt (models/byte-gpt/1, or --model bpe-gpt: a tokenizer model
 * whose layers are found by graph analysis), with the service's own pipeline
 * pieces (services/pruning/src): calibration text is README prose of the installed npm packages
 * (readme-corpus.ts, as validate-pruning.ts uses).
 *
 * 1. Analysis time per calibration size: capturing the residual stream x^0..x^L (model forward with every
 *    hidden state as output), then the distance matrix over all removable blocks (l, n), both the angular
 *    distance on final tokens (one row per text) and block influence on all tokens. Baseline: the plain
 *    forward pass of the same model on the same tokens, logits only. Each phase is run --repeats times,
 *    alternating, and the fastest run is kept: the shared machine adds noise, never speed.
 * 2. Pruned vs original for the block l*(n) the angular analysis picks: ONNX file size, parameters and
 *    forward latency p50/p99 at batch 1 and 8 of one sequence length, runs interleaved across the models
 *    (in rotating order) so that load on the machine hits them alike. (L − n)/L is the naive expectation.
 *
 *   npx tsx bench/pruning.ts [--tokens 16384,65536] [--sequence-length min(256, context)] [--batch 8] [--blocks 1,2,4]
 *                            [--repeats 3] [--runs 100] [--warmup 3] [--threads 2] [--model byte-gpt] [--version 1]
 */
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decoderFeeds, type GraphSession, ModelStore, runOutputs } from '@sift/inference';
import * as ort from 'onnxruntime-node';
import {
  decodeOnnxModel,
  encodeOnnxModel,
  exposeOutputs,
  removeBlock,
} from '../services/pruning/src/adapters/onnx-graph.js';
import {
  angularDistanceMatrix,
  type BlockDistances,
  bestBlock,
  blockInfluenceMatrix,
} from '../services/pruning/src/domain/angular-distance.js';
import { sessionOptions } from '../services/pruning/src/pipeline/analysis.js';
import { type CapturedStreams, captureResidualStream } from '../services/pruning/src/pipeline/calibration.js';
import { loadDecoder, residualStreamTensors } from '../services/pruning/src/pipeline/decoder-model.js';
import { parameterCount } from '../services/pruning/src/pipeline/evaluation.js';
import { readmeCalibrationAndEvaluation } from '../services/pruning/src/readme-corpus.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: '16384,65536' },
    'sequence-length': { type: 'string', default: '' },
    batch: { type: 'string', default: '8' },
    blocks: { type: 'string', default: '1,2,4' },
    runs: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    model: { type: 'string', default: 'byte-gpt' },
    version: { type: 'string', default: '1' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const batch = Number(args.batch);
const runs = Number(args.runs);
const warmup = Number(args.warmup);
const repeats = Number(args.repeats);
const threads = Number(args.threads);
const tokenCounts = list(args.tokens);
const blockSizes = list(args.blocks);

const seconds = (ms: number) => ms / 1000;
const fmt = (v: number, digits = 3) => v.toFixed(digits);
const pad = (s: string | number, w: number) => String(s).padStart(w);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Plain forward pass over all windows in batches, logits only. */
async function plainForward(session: GraphSession, windows: readonly Int32Array[]): Promise<void> {
  for (let b = 0; b < windows.length; b += batch) {
    await runOutputs(session, decoderFeeds(session, windows.slice(b, b + batch), padId), ['logits']);
  }
}

/** Wall-clock milliseconds of `work`. */
async function elapsedMs(work: () => unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const store = new ModelStore(join(repoRoot, 'models'));
const decoder = await loadDecoder(await store.resolve(args.model, args.version));
if (decoder.external) throw new Error(`${args.model}: weights in external data; this bench opens graphs from memory`);
const L = decoder.layerCount;
// Tokens per window: 256, or the model's context when shorter (bpe-gpt: 128).
const seq = Number(args['sequence-length']) || Math.min(256, decoder.contextLength);
const padId = decoder.codec.padId;
const maxTokens = Math.max(...tokenCounts);
const corpus = readmeCalibrationAndEvaluation({
  nodeModules: join(repoRoot, 'node_modules'),
  context: seq,
  calibrationWindows: Math.ceil(maxTokens / seq),
  evaluationBytes: 0,
  codec: decoder.codec,
});
const load0 = loadavg()[0]!;
console.log(
  `# pruning  model=${args.model}/${args.version} (L = ${L})  ${cpus().length} cores (${cpus()[0]?.model}), ` +
    `node ${process.version}, onnxruntime-node ${ort.env.versions.common}, ${threads} threads; load average ${fmt(load0, 2)}`,
);

// ---------------------------------------------------------------- 1. analysis time

const { tensors, source, exposed } = residualStreamTensors(decoder, '');
const session = await ort.InferenceSession.create(decoder.bytes, sessionOptions(threads));
// A model that does not output its residual stream is captured from a copy that does, as the service does.
const captureSession = exposed
  ? await ort.InferenceSession.create(encodeOnnxModel(exposeOutputs(decoder.graph, tensors)), sessionOptions(threads))
  : session;
await plainForward(session, corpus.calibration.slice(0, batch)); // warm-up
await plainForward(captureSession, corpus.calibration.slice(0, batch));
const blockOptions = { maxBlockSize: L - 1, finalLayer: 'mask' as const }; // the service's defaults
let picked: BlockDistances | undefined; // from the last calibration size, which picks the blocks of section 2
let pickedTokens = 0;
console.log(
  `\n## 1. Analysis time: batch ${batch} × seq ${seq}, residual stream from ${source}, blocks n <= ${L - 1}, best of ${repeats}`,
);
console.log(
  '    tokens  metric           plain fwd s  capture s  distance s  analysis s  s/1k tok  s/1k tok/layer  analysis/plain',
);
for (const tokens of tokenCounts) {
  const windows = corpus.calibration.slice(0, Math.ceil(tokens / seq));
  const ms = { plain: Infinity, capture: Infinity, angular: Infinity, influence: Infinity };
  let captured!: CapturedStreams;
  for (let r = 0; r < repeats; r++) {
    ms.plain = Math.min(ms.plain, await elapsedMs(() => plainForward(session, windows)));
    const capture = async () => {
      captured = await captureResidualStream(captureSession, tensors, windows, padId, batch, () => {});
    };
    ms.capture = Math.min(ms.capture, await elapsedMs(capture));
    const { dim, texts } = captured;
    const angular = () => {
      picked = angularDistanceMatrix({ states: captured.lastToken, rows: texts, dim }, blockOptions);
      pickedTokens = captured.tokens;
    };
    ms.angular = Math.min(ms.angular, await elapsedMs(angular));
    const influence = () =>
      blockInfluenceMatrix({ states: captured.allTokens, rows: captured.tokens, dim }, blockOptions);
    ms.influence = Math.min(ms.influence, await elapsedMs(influence));
  }
  const { plain: plainMs, capture: captureMs, angular: angularMs, influence: influenceMs } = ms;
  const rows: [string, number][] = [
    [`angular (${captured.texts} final)`, angularMs],
    [`block infl. (all)`, influenceMs],
  ];
  for (const [metric, distanceMs] of rows) {
    const total = captureMs + distanceMs;
    const per1k = seconds(total) / (captured.tokens / 1000);
    console.log(
      `  ${pad(captured.tokens, 8)}  ${metric.padEnd(19)}${pad(fmt(seconds(plainMs), 2), 9)}  ${pad(fmt(seconds(captureMs), 2), 9)}` +
        `  ${pad(fmt(seconds(distanceMs)), 10)}  ${pad(fmt(seconds(total), 2), 10)}  ${pad(fmt(per1k, 4), 8)}` +
        `  ${pad(fmt(per1k / L, 5), 14)}  ${pad(fmt(total / plainMs, 2), 14)}`,
    );
  }
  const stateBytes = captured.allTokens.reduce((s, a) => s + a.byteLength, 0);
  console.log(
    `            captured x^0..x^${L} of all tokens: ${mib(stateBytes)}; capture / plain forward ${fmt(captureMs / plainMs, 2)}`,
  );
}
await session.release();
if (captureSession !== session) await captureSession.release();

// ---------------------------------------------------------------- 2. pruned vs original

interface Variant {
  readonly label: string;
  readonly n: number;
  readonly bytes: Uint8Array;
  readonly parameters: number;
  readonly session: GraphSession;
  readonly times: Record<number, number[]>;
}
const batchSizes = [1, 8];
const reencoded = encodeOnnxModel(decoder.graph).length;
const variants: Variant[] = [];
const addVariant = async (label: string, n: number, bytes: Uint8Array) => {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(threads));
  const parameters = parameterCount(decodeOnnxModel(bytes));
  variants.push({ label, n, bytes, parameters, session, times: Object.fromEntries(batchSizes.map((b) => [b, []])) });
};
await addVariant('original', 0, decoder.bytes);
const skipped = blockSizes.filter((n) => n >= L);
if (skipped.length > 0) console.log(`\n(block sizes ${skipped.join(', ')} skipped: the model has ${L} layers)`);
for (const n of blockSizes.filter((n) => n < L)) {
  const l = bestBlock(picked!, n)!.startLayer;
  const pruned = removeBlock(decoder.graph, l, n, decoder.boundaries);
  await addVariant(n === 1 ? `n=1 drop ${l}` : `n=${n} drop ${l}..${l + n - 1}`, n, encodeOnnxModel(pruned.model));
}
for (const rows of batchSizes) {
  // Per variant: a pruned model with a key/value cache takes the cache inputs of its remaining layers only.
  const feedsOf = new Map(variants.map((v) => [v, decoderFeeds(v.session, corpus.calibration.slice(0, rows), padId)]));
  for (const v of variants) for (let r = 0; r < warmup; r++) await runOutputs(v.session, feedsOf.get(v)!, ['logits']);
  for (let r = 0; r < runs; r++) {
    // Round r starts at a different model, so no model always runs first (or after the same one).
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(r + k) % variants.length]!;
      const started = performance.now();
      await runOutputs(v.session, feedsOf.get(v)!, ['logits']);
      v.times[rows]!.push(performance.now() - started);
    }
  }
}
const pick = (times: number[], q: number) => {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const base = variants[0]!;
console.log(
  `\n## 2. Pruned vs original: block l*(n) by angular distance on ${pickedTokens} tokens; ${runs} interleaved runs after ${warmup} warm-up, logits only`,
);
console.log(`  original file ${decoder.bytes.length} bytes (re-encoded by the service's encoder: ${reencoded})`);
console.log(
  `  model          (L-n)/L   file bytes  ratio  params  ratio | ${batchSizes.map((b) => `${b}×${seq} p50/p99 ms  ratio p50`).join(' | ')}`,
);
for (const v of variants) {
  const lat = batchSizes.map((b) => {
    const p50 = pick(v.times[b]!, 0.5);
    return `${pad(fmt(p50, 1), 8)} / ${fmt(pick(v.times[b]!, 0.99), 1).padEnd(6)}  ${pad(fmt(p50 / pick(base.times[b]!, 0.5)), 9)}`;
  });
  console.log(
    `  ${v.label.padEnd(14)} ${pad(fmt((L - v.n) / L), 7)}  ${pad(v.bytes.length, 10)}  ${fmt(v.bytes.length / base.bytes.length)}` +
      `  ${pad(`${fmt(v.parameters / 1e6, 2)}M`, 6)}  ${fmt(v.parameters / base.parameters)} | ${lat.join(' | ')}`,
  );
  await v.session.release();
}
console.log(`\nload average ${fmt(load0, 2)} at start, ${fmt(loadavg()[0]!, 2)} at end`);
