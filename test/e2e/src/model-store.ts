import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@sift/launcher';
import { decodeOnnxModel, encodeOnnxModel } from '../../../services/pruning/src/adapters/onnx-graph.js';

/**
 * A COPY of the models the pruning tests need, in a new model store at `modelsDir` (the repository's
 * models/ is never written): byte-gpt; digits-cls, a model of another kind; byte-gpt-plain, byte-gpt without
 * its hidden-state outputs; byte-gpt-tangled, byte-gpt with a node of layer 5 named as if in layer 3; bpe-gpt,
 * a decoder over a byte-level BPE tokenizer exported like a Hugging Face GPT-2; bpe-gpt-with-past, the
 * same with a key/value cache; llama-mini, a decoder with the Llama layout and a cache.
 */
export function writeModelStore(modelsDir: string): void {
  for (const name of ['byte-gpt', 'bpe-gpt', 'bpe-gpt-with-past', 'llama-mini'])
    cpSync(join(repoRoot, 'models', name), join(modelsDir, name), { recursive: true });
  // A model of another kind, which the service must refuse by saying what it is.
  cpSync(join(repoRoot, 'models/digits-cls'), join(modelsDir, 'digits-cls'), { recursive: true });
  // The same network exported without its hidden-state outputs, as most exporters leave a decoder:
  // the service has to find the layer boundaries by graph analysis.
  const plainDir = join(modelsDir, 'byte-gpt-plain', '1');
  mkdirSync(plainDir, { recursive: true });
  const graph = decodeOnnxModel(readFileSync(join(repoRoot, 'models/byte-gpt/1/model.onnx')));
  const g = graph.graph as { output: { name?: string | null }[] };
  g.output = g.output.filter((o) => o.name === 'logits');
  writeFileSync(join(plainDir, 'model.onnx'), encodeOnnxModel(graph));
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'models/byte-gpt/1/model.json'), 'utf8'));
  writeFileSync(
    join(plainDir, 'model.json'),
    JSON.stringify({ ...manifest, name: 'byte-gpt-plain', outputs: manifest.outputs.slice(0, 1), sha256: {} }),
  );
  // byte-gpt with one node of layer 5 named as if in layer 3: a cut of layers 3..4 would still need it.
  const tangledDir = join(modelsDir, 'byte-gpt-tangled', '1');
  mkdirSync(tangledDir, { recursive: true });
  const tangled = decodeOnnxModel(readFileSync(join(repoRoot, 'models/byte-gpt/1/model.onnx')));
  const node = tangled.graph?.node?.find((n) => n.name === '/model/blocks.5/ln1/LayerNormalization');
  if (node) node.name = '/model/blocks.3/ln1/LayerNormalization_5';
  writeFileSync(join(tangledDir, 'model.onnx'), encodeOnnxModel(tangled));
  writeFileSync(join(tangledDir, 'model.json'), JSON.stringify({ ...manifest, name: 'byte-gpt-tangled', sha256: {} }));
}
