import { SiftError } from '@sift/kit/errors';
import {
  cloneModel,
  graphOf,
  indexGraph,
  LayerMembership,
  namesRead,
  type OnnxGraph,
  type OnnxModel,
  onnx,
  renameReads,
} from './onnx-graph-index.js';
import type { LayerBoundaries } from './onnx-layer-boundaries.js';

/** Hidden-state outputs as decoders export them: `hidden_state_k` = x^k. */
export const defaultHiddenStatePattern = /^hidden_state_(\d+)$/;

/**
 * Key/value cache inputs and outputs as Hugging Face exports name them (`past_key_values.<i>.key`,
 * `present.<i>.value`); the first capture group is the layer.
 */
export const defaultCachePattern = /^(?:past_key_values|present)\.(\d+)\./;

/** Metadata key under which every removal is recorded (a JSON array, one entry per removal, oldest first). */
export const removedBlocksMetadataKey = 'sift.pruning.removed_blocks';

export interface RemoveBlockOptions {
  /** Allow a block that contains the final layer (start + n = L); default false, as the contract says. */
  allowFinalLayer?: boolean;
  /** Graph outputs holding x^k, with k as first capture group; default `hidden_state_<k>`. */
  hiddenStatePattern?: RegExp;
  /** Per-layer cache inputs and outputs, with the layer as first capture group; default {@link defaultCachePattern}. */
  cachePattern?: RegExp;
}

/** A model with a block of layers cut out, and what the cut changed. */
export interface PrunedGraph {
  readonly model: OnnxModel;
  /** Where the stream now crosses each layer boundary of the pruned model (L − n layers). */
  readonly boundaries: LayerBoundaries;
  /** x^start: the tensor that now feeds what was layer start + n (and where a healing map goes). */
  readonly bridgedTensor: string;
  /** Graph outputs removed because they belonged to removed layers (their hidden states, caches). */
  readonly droppedOutputs: readonly string[];
  /** Graph inputs removed because only removed layers read them (e.g. their past key/values). */
  readonly droppedInputs: readonly string[];
  /** Hidden-state outputs and cache inputs/outputs renumbered to the pruned model's layers: old name -> new name. */
  readonly renamedOutputs: Readonly<Record<string, string>>;
  readonly removedNodeCount: number;
  readonly removedInitializers: readonly string[];
}

/** The pattern with match indices and without the stateful global/sticky flags. */
function withIndices(pattern: RegExp): RegExp {
  return new RegExp(pattern.source, `${pattern.flags.replace(/[gyd]/g, '')}d`);
}

/** The number `pattern` (compiled by {@link withIndices}) captures in `name`, and `name` with it replaced. */
function numbered(pattern: RegExp, name: string): { k: number; with(k: number): string } | undefined {
  const match = pattern.exec(name);
  const span = match?.indices?.[1];
  if (match?.[1] === undefined || !span) return undefined;
  return { k: Number.parseInt(match[1], 10), with: (k) => `${name.slice(0, span[0])}${k}${name.slice(span[1])}` };
}

function invalid(message: string): SiftError {
  return new SiftError('invalid_argument', message);
}

/**
 * Cuts layers start..start+n−1 out of a copy of the model: every reader of the block's output x^(start+n)
 * reads the block's input x^start instead; then nodes that no graph output needs any more, initializers
 * nothing reads, graph inputs only removed layers read, and value_info of vanished tensors are removed.
 * The input model is left as it was; graph inputs and outputs keep their types and dynamic axes.
 *
 * Outputs keep a consistent meaning: `hidden_state_k` stays "the stream entering layer k" of the pruned
 * model. The outputs of removed boundaries (k in start+1..start+n) are dropped and the later ones are
 * renumbered (k -> k − n), so the pruned model looks like any (L − n)-layer export and can be analysed or
 * pruned again. Node names of later layers are renumbered the same way, so {@link findLayerBoundaries} finds
 * L − n layers, and so are the inputs and outputs of a key/value cache (`past_key_values.<i>.*`,
 * `present.<i>.*` for i >= start + n become i − n; those of removed layers go, and a node outside the block
 * that read a removed layer's cache input, such as the past length a mask is built from, reads the next
 * kept layer's), so the pruned model has the cache interface of an (L − n)-layer export. Any other output
 * equal to x^(start+n) is kept and now carries x^start; any other output produced inside the block is
 * dropped. Nodes of removed layers that
 * do not read the residual stream and that kept layers still use (a constant the exporter shared between
 * layers) stay. An output that still needs a removed layer's computation on the stream through another path
 * is an error: the block is not cut by its input and output alone.
 */
export function removeBlock(
  model: OnnxModel,
  start: number,
  n: number,
  boundaries: LayerBoundaries,
  opts: RemoveBlockOptions = {},
): PrunedGraph {
  const layerCount = boundaries.layerCount;
  if (boundaries.tensors.length !== layerCount + 1) {
    throw invalid(
      `layer boundaries: expected ${layerCount + 1} tensors for ${layerCount} layers, got ${boundaries.tensors.length}`,
    );
  }
  if (!Number.isInteger(n) || n < 1) throw invalid(`block size must be an integer >= 1, got ${n}`);
  const lastEnd = opts.allowFinalLayer ? layerCount : layerCount - 1;
  if (!Number.isInteger(start) || start < 0 || start + n > lastEnd) {
    throw invalid(
      `block of ${n} layers from layer ${start} does not fit a ${layerCount}-layer model` +
        (opts.allowFinalLayer ? '' : ' without removing its final layer'),
    );
  }
  const copy = cloneModel(model);
  const graph = graphOf(copy);
  const inTensor = boundaries.tensors[start]!;
  const outTensor = boundaries.tensors[start + n]!;
  const membership = new LayerMembership(boundaries.pattern);
  const hiddenPattern = withIndices(opts.hiddenStatePattern ?? defaultHiddenStatePattern);
  const cachePattern = withIndices(opts.cachePattern ?? defaultCachePattern);
  const before = indexGraph(graph);
  for (const name of [inTensor, outTensor]) {
    if (!before.producer.has(name) && !before.graphInputs.has(name)) {
      throw invalid(`layer boundary tensor ${name} is not in the graph: boundaries come from another model`);
    }
  }

  // 1. Bridge: readers of x^(start+n) read x^start.
  const bridge = (name: string) => (name === outTensor ? inTensor : name);
  for (const node of graph.node ?? []) renameReads(node, bridge);
  const nodes = graph.node ?? [];
  graph.node = nodes;
  const removed = new Set<number>();
  nodes.forEach((node, i) => {
    const l = membership.layerOf(node);
    if (l !== undefined && l >= start && l < start + n) removed.add(i);
  });
  // A removed layer's cache input that nodes outside the block still read goes over to the same input of
  // the next kept layer: exporters read the past length off layer 0's cache to build the mask every layer
  // uses (Hugging Face's Llama does), and every layer's cache has the same shape.
  const cacheHeir = new Map<string, string>();
  const inputNames = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  for (const name of inputNames) {
    const cache = numbered(cachePattern, name);
    if (!cache || cache.k < start || cache.k >= start + n) continue;
    const heir = cache.with(start + n < layerCount ? start + n : start - 1);
    if (inputNames.has(heir)) cacheHeir.set(name, heir);
  }
  nodes.forEach((node, i) => {
    if (!removed.has(i)) renameReads(node, (name) => cacheHeir.get(name) ?? name);
  });

  // 2. Outputs: drop or renumber hidden states, keep other views of x^(start+n), drop per-layer outputs.
  const droppedOutputs: string[] = [];
  const renamed = new Map<string, string>();
  const producer = indexGraph(graph).producer;
  const keptOutputs = [];
  for (const out of graph.output ?? []) {
    const name = out.name ?? '';
    const hidden = numbered(hiddenPattern, name);
    const k = hidden?.k;
    if (k !== undefined && k > start && k <= start + n) {
      droppedOutputs.push(name);
      continue;
    }
    if (hidden && hidden.k > start + n) renamed.set(name, hidden.with(hidden.k - n));
    const cache = numbered(cachePattern, name);
    if (cache && cache.k >= start + n) renamed.set(name, cache.with(cache.k - n));
    if (name === outTensor && k === undefined) {
      nodes.push(
        onnx.NodeProto.create({
          name: `/sift/bridge/${name}/Identity`,
          opType: 'Identity',
          input: [inTensor],
          output: [name],
        }),
      );
    } else if (removed.has(producer.get(name) ?? -1)) {
      droppedOutputs.push(name);
      continue;
    }
    keptOutputs.push(out);
  }
  graph.output = keptOutputs;

  // 3. Liveness from the kept outputs; a removed layer must not be needed any more.
  const after = indexGraph(graph);
  const live = new Set<number>();
  const stack = keptOutputs.map((o) => o.name ?? '');
  const needed = new Set<string>(stack);
  while (stack.length > 0) {
    const p = after.producer.get(stack.pop()!);
    if (p === undefined || live.has(p)) continue;
    live.add(p);
    for (const name of namesRead(after.nodes[p]!)) {
      if (!needed.has(name)) {
        needed.add(name);
        stack.push(name);
      }
    }
  }
  // A removed layer's node that kept layers still need is fine when it does not read the residual stream:
  // exporters merge equal constants (one causal-mask Constant named in layer 0 feeds every layer), and
  // such a node computes the same thing whichever layers remain. One that reads the stream is a real path
  // through the removed block.
  const streamDependent = new Set<string>(boundaries.tensors);
  for (const node of after.nodes) {
    if (namesRead(node).some((name) => streamDependent.has(name))) {
      for (const out of node.output ?? []) streamDependent.add(out);
    }
  }
  for (const i of live) {
    const node = after.nodes[i]!;
    if (removed.has(i) && (node.output ?? []).some((out) => streamDependent.has(out))) {
      throw invalid(
        `cannot cut layers ${start}..${start + n - 1} at ${inTensor} -> ${outTensor}: node ${node.name} of a removed layer ` +
          'is still needed by a graph output through another tensor',
      );
    }
  }

  // 4. Sweep dead nodes, unread initializers and inputs, and stale value_info.
  const wasRead = new Set(before.readers.keys());
  graph.node = after.nodes.filter((_, i) => live.has(i));
  const removedInitializers = (graph.initializer ?? [])
    .filter((t) => !needed.has(t.name ?? ''))
    .map((t) => t.name ?? '');
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  const droppedInputs = (graph.input ?? [])
    .filter((v) => !needed.has(v.name ?? '') && wasRead.has(v.name ?? '') && !after.initializers.has(v.name ?? ''))
    .map((v) => v.name ?? '');
  const gone = new Set([...droppedInputs, ...removedInitializers]); // old IR versions list initializers as inputs
  graph.input = (graph.input ?? []).filter((v) => !gone.has(v.name ?? ''));
  const produced = new Set((graph.node ?? []).flatMap((node) => node.output ?? []));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => produced.has(v.name ?? ''));

  // 5. Renumber hidden-state outputs, later layers' cache inputs and node names.
  for (const input of graph.input ?? []) {
    const cache = numbered(cachePattern, input.name ?? '');
    if (cache && cache.k >= start + n) renamed.set(input.name ?? '', cache.with(cache.k - n));
  }
  applyRenames(graph, renamed);
  for (const node of graph.node ?? []) {
    const l = membership.layerOf(node);
    if (l === undefined || l < start) continue;
    if (l >= start + n) node.name = membership.relabel(node, l - n);
    // A removed layer's node that stays (a mask or constant the kept layers share) leaves the numbering:
    // under its old name it would count as a node of the layer that now has that number, and clash with
    // that layer's own node of the same name (ONNX Runtime refuses a graph with two).
    else node.name = membership.detach(node);
  }
  recordRemoval(copy, { startLayer: start, blockSize: n, layerCountBefore: layerCount });

  const renameTensor = (name: string) => renamed.get(name) ?? name;
  const tensors = [...boundaries.tensors.slice(0, start + 1), ...boundaries.tensors.slice(start + n + 1)].map(
    renameTensor,
  );
  return {
    model: copy,
    boundaries: { layerCount: layerCount - n, tensors, pattern: boundaries.pattern },
    bridgedTensor: renameTensor(inTensor),
    droppedOutputs,
    droppedInputs,
    renamedOutputs: Object.fromEntries(renamed),
    removedNodeCount: before.nodes.length - (graph.node ?? []).length,
    removedInitializers,
  };
}

/** Renames tensors everywhere they appear; a new name must not already name another tensor. */
function applyRenames(graph: OnnxGraph, renamed: ReadonlyMap<string, string>): void {
  if (renamed.size === 0) return;
  const targets = new Set(renamed.values());
  const index = indexGraph(graph);
  for (const name of [...index.producer.keys(), ...index.graphInputs, ...index.initializers]) {
    if (targets.has(name) && !renamed.has(name)) {
      throw new SiftError(
        'internal',
        `renumbering per-layer inputs and outputs would reuse the name ${name} of another tensor`,
      );
    }
  }
  const rename = (name: string) => renamed.get(name) ?? name;
  for (const node of graph.node ?? []) {
    renameReads(node, rename);
    if (node.output) node.output = node.output.map(rename);
  }
  for (const list of [graph.input, graph.output, graph.valueInfo])
    for (const v of list ?? []) v.name = rename(v.name ?? '');
}

function recordRemoval(
  model: OnnxModel,
  entry: { startLayer: number; blockSize: number; layerCountBefore: number },
): void {
  const props = model.metadataProps ?? [];
  const existing = props.find((p) => p.key === removedBlocksMetadataKey);
  let history: unknown[] = [];
  if (existing?.value) {
    try {
      const parsed: unknown = JSON.parse(existing.value);
      if (Array.isArray(parsed)) history = parsed;
    } catch {
      // An unreadable record is replaced rather than failing the rewrite.
    }
  }
  history.push(entry);
  const value = JSON.stringify(history);
  if (existing) existing.value = value;
  else props.push({ key: removedBlocksMetadataKey, value });
  model.metadataProps = props;
}
