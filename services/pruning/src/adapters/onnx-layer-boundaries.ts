import { SiftError } from '@sift/kit/errors';
import {
  dynamicTensors,
  type GraphIndex,
  graphOf,
  indexGraph,
  LayerMembership,
  mayBeFloat,
  type OnnxModel,
} from './onnx-graph-index.js';

/** Node names of common decoder exports: `/blocks.3/...` (GPT), `/layers.3/...` (Llama), `/h.3/...` (GPT-2). */
export const defaultLayerPattern = /\/(?:blocks|layers|h)\.(\d+)\//;

/** Where the residual stream crosses each layer boundary of a decoder graph. */
export interface LayerBoundaries {
  /** L, the number of layers. */
  readonly layerCount: number;
  /** x^0..x^L: `tensors[l]` enters layer l, `tensors[L]` leaves the last layer. */
  readonly tensors: readonly string[];
  /** The node-name pattern that assigned nodes to layers; its first capture group is the layer index. */
  readonly pattern: RegExp;
}

function notFound(message: string): SiftError {
  return new SiftError('invalid_argument', message);
}

/**
 * Finds the residual stream at every layer boundary by reading the graph, for models that do not output
 * their hidden states (and, for those that do, it finds the same tensors).
 *
 * Nodes belong to layer l when `pattern`'s first capture group in their name is l (nodes without a name are
 * judged by their first output). Layers 0..L−1 must all be present. Only tensors that depend on a graph
 * input and may hold floats are considered (initializers, Constant outputs and shapes folded from them are
 * never the stream).
 * - x^l for 1 <= l < L: among the tensors read by layer-l nodes and produced by layer l−1, the one read
 *   first in node order, i.e. the residual input of the first node of layer l (the pre-norm, or the
 *   attention of a post-norm block). Masks or rotary tables built outside the layers are not produced by
 *   layer l−1, so they never win.
 * - x^L: among the tensors produced by layer L−1 and read outside it, the first one read by a node outside
 *   every layer (the final norm); failing that, one that is a graph output.
 * - x^0: among the tensors read by layer-0 nodes and produced outside layer 0, the one read by the same
 *   operators of layer 0 that read x^1 in layer 1 (matching node names with the layer number masked);
 *   ties and graphs with one layer take the one read first.
 *
 * Limits: layers must form a chain in which layer l reads the stream written by layer l−1 (parallel
 * branches across layers, encoder–decoder cross-attention and shared weights in subgraphs are not
 * recognised); the layer number must appear in node names; when a layer reads several tensors of the
 * previous layer (e.g. a cache), the first one read is taken to be the stream.
 */
export function findLayerBoundaries(model: OnnxModel, pattern: RegExp = defaultLayerPattern): LayerBoundaries {
  const graph = graphOf(model);
  const index = indexGraph(graph);
  const membership = new LayerMembership(pattern);
  const layerOfNode = index.nodes.map((n) => membership.layerOf(n));
  const present = new Set(layerOfNode.filter((l): l is number => l !== undefined));
  if (present.size === 0) throw notFound(`no node name of the graph matches the layer pattern ${pattern}`);
  const layerCount = Math.max(...present) + 1;
  const missing = [...Array(layerCount).keys()].filter((l) => !present.has(l));
  if (missing.length > 0) {
    throw notFound(
      `layer pattern ${pattern} finds layers up to ${layerCount - 1} but no node of layer ${missing.join(', ')}`,
    );
  }
  const dynamic = dynamicTensors(index);
  const isStream = (name: string) => dynamic.has(name) && mayBeFloat(graph, name);
  const producerLayer = (name: string): number | undefined => {
    const p = index.producer.get(name);
    return p === undefined ? undefined : layerOfNode[p];
  };

  /** Tensors read by layer-l nodes but produced outside layer l, in the order they are first read. */
  const readFromOutside = (l: number): string[] => {
    const seen = new Set<string>();
    index.nodes.forEach((node, i) => {
      if (layerOfNode[i] !== l) return;
      for (const name of node.input ?? []) {
        if (name !== '' && !seen.has(name) && producerLayer(name) !== l && isStream(name)) seen.add(name);
      }
    });
    return [...seen];
  };

  const tensors: string[] = new Array(layerCount + 1);
  for (let l = 1; l < layerCount; l++) {
    const fromPrevious = readFromOutside(l).filter((name) => producerLayer(name) === l - 1);
    if (fromPrevious.length === 0) {
      throw notFound(`layer boundary ${l}: no node of layer ${l} reads a tensor produced by layer ${l - 1}`);
    }
    tensors[l] = fromPrevious[0]!;
  }
  tensors[layerCount] = findLastLayerOutput(index, layerOfNode, layerCount - 1, isStream);
  tensors[0] = findFirstLayerInput(index, layerOfNode, membership, readFromOutside(0), tensors[1], layerCount);
  return { layerCount, tensors, pattern };
}

function findLastLayerOutput(
  index: GraphIndex,
  layerOfNode: readonly (number | undefined)[],
  last: number,
  isStream: (name: string) => boolean,
): string {
  let readOutside: { name: string; at: number } | undefined;
  let asOutput: string | undefined;
  index.nodes.forEach((node, i) => {
    if (layerOfNode[i] !== last) return;
    for (const name of node.output ?? []) {
      if (name === '' || !isStream(name)) continue;
      const outsideReaders = (index.readers.get(name) ?? []).filter((r) => layerOfNode[r] === undefined);
      if (outsideReaders.length > 0) {
        const at = Math.min(...outsideReaders);
        if (!readOutside || at < readOutside.at) readOutside = { name, at };
      } else if (index.graphOutputs.has(name) && asOutput === undefined) {
        asOutput = name;
      }
    }
  });
  const found = readOutside?.name ?? asOutput;
  if (found === undefined) {
    throw notFound(
      `layer boundary ${last + 1}: nothing produced by layer ${last} is read after the layers or is a graph output`,
    );
  }
  return found;
}

function findFirstLayerInput(
  index: GraphIndex,
  layerOfNode: readonly (number | undefined)[],
  membership: LayerMembership,
  candidates: readonly string[],
  nextBoundary: string | undefined,
  layerCount: number,
): string {
  if (candidates.length === 0)
    throw notFound('layer boundary 0: layer 0 reads no tensor computed from the graph inputs');
  if (candidates.length === 1 || nextBoundary === undefined || layerCount < 2) return candidates[0]!;
  /** Operator roles (name with the layer masked, input slot) reading `name` inside layer `l`. */
  const roles = (name: string, l: number): Set<string> => {
    const out = new Set<string>();
    for (const r of index.readers.get(name) ?? []) {
      if (layerOfNode[r] !== l) continue;
      const node = index.nodes[r]!;
      (node.input ?? []).forEach((input, slot) => {
        if (input === name) out.add(`${membership.role(node)}#${slot}`);
      });
    }
    return out;
  };
  const reference = roles(nextBoundary, 1);
  let best = candidates[0]!;
  let bestOverlap = -1;
  for (const name of candidates) {
    const overlap = [...roles(name, 0)].filter((r) => reference.has(r)).length;
    if (overlap > bestOverlap) {
      best = name;
      bestOverlap = overlap;
    }
  }
  return best;
}
