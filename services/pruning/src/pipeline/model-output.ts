import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compareVersions, type StoredModel } from '@sift/inference';
import { type ExternalWeights, writeWithExternalData } from '../adapters/onnx-external-data.js';
import type { OnnxModel } from '../adapters/onnx-graph.js';

/** Provenance recorded in the pruned model's manifest. */
export interface PruningProvenance {
  jobId: string;
  source: { name: string; version: string; sha256: string };
  removedBlock: { startLayer: number; blockSize: number; distance: number | null };
  analysisJobId: string;
  healing: {
    method: string;
    placement?: 'fold' | 'insert';
    foldedInto?: string | undefined;
    addedParameters?: number;
    ridgeAlpha?: number;
    fitTokens?: number;
  };
  calibrationSha256: string;
}

/** A graph to store: its bytes, decoded, and where its external tensors' values are (if it has any). */
export interface GraphToStore {
  readonly bytes: Uint8Array;
  readonly model: OnnxModel;
  readonly externalWeights?: ExternalWeights | undefined;
}

/**
 * Writes a pruned graph as a NEW version `<root>/<name>/<highest numeric version + 1>/` with model.onnx (and
 * model.onnx.data holding the tensors it kept, when the source kept its weights in external data), a
 * copy of the source's tokenizer file when it has one (`preprocessing.tokenizer`), and a model.json derived
 * from the source's: same preprocessing, the inputs and outputs the pruned graph still has (a removed
 * layer's cache goes), the new layer count, provenance. The folder is written under a dot-name (which the model store skips) and renamed
 * into place, so a reader never sees half a model; the source folder is never touched.
 *
 * Idempotent per job: when a version whose provenance names this job id already exists (the worker died
 * after storing it, and the redelivered job ran again), that version is returned instead of a duplicate.
 */
export async function storeModelVersion(
  root: string,
  name: string,
  source: StoredModel,
  graph: GraphToStore,
  size: { layers: number; parameters: number },
  provenance: PruningProvenance,
  metrics: Record<string, unknown>,
): Promise<{ name: string; version: string; dir: string }> {
  const nameDir = join(root, name);
  await mkdir(nameDir, { recursive: true });
  const earlier = await versionStoredBy(nameDir, provenance.jobId);
  if (earlier) return { name, version: earlier, dir: join(nameDir, earlier) };
  const tmp = join(nameDir, `.tmp-${provenance.jobId}-${randomBytes(3).toString('hex')}`);
  await mkdir(tmp);
  try {
    let sha256: Record<string, string>;
    if (graph.externalWeights) {
      sha256 = (await writeWithExternalData(graph.model, graph.externalWeights, tmp)).sha256;
    } else {
      sha256 = { 'model.onnx': createHash('sha256').update(graph.bytes).digest('hex') };
      await writeFile(join(tmp, 'model.onnx'), graph.bytes);
    }
    const tokenizer = source.manifest.preprocessing?.tokenizer;
    if (typeof tokenizer === 'string' && tokenizer !== '' && tokenizer !== 'model.onnx') {
      // The source was loaded through this file (textCodecOf keeps it inside the model folder).
      const text = await readFile(join(source.dir, tokenizer));
      await mkdir(dirname(join(tmp, tokenizer)), { recursive: true });
      await writeFile(join(tmp, tokenizer), text);
      sha256[tokenizer] = createHash('sha256').update(text).digest('hex');
    }
    for (;;) {
      const versions = (await readdir(nameDir, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort(compareVersions);
      const highest = Number(versions.at(-1) ?? '0');
      const version = String(Number.isFinite(highest) ? Math.floor(highest) + 1 : versions.length + 1);
      const s = source.manifest;
      const inputs = new Set((graph.model.graph?.input ?? []).map((i) => i.name ?? ''));
      const outputs = new Set((graph.model.graph?.output ?? []).map((o) => o.name ?? ''));
      const { startLayer, blockSize } = provenance.removedBlock;
      const manifest = {
        ...s,
        name,
        version,
        // The source's description may count its layers: the pruned count leads.
        description: `${size.layers}-layer pruning of ${source.name}/${source.version} (layers ${startLayer}..${
          startLayer + blockSize - 1
        } removed${healingNote(provenance.healing)}); the source: ${s.description}`,
        graphs: { model: 'model.onnx' },
        inputs: s.inputs.filter((i) => inputs.has(i.name)),
        outputs: s.outputs.filter((o) => outputs.has(o.name)),
        ...(s.languageModel
          ? { languageModel: prunedLanguageModel(s.languageModel as Record<string, unknown>, size) }
          : {}),
        provenance: { pruning: provenance, createdAt: new Date().toISOString(), sourceProvenance: s.provenance ?? {} },
        metrics,
        sha256,
      };
      await writeFile(join(tmp, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      try {
        // rename fails with ENOTEMPTY/EEXIST when another job took this version meanwhile: try the next one.
        await rename(tmp, join(nameDir, version));
        return { name, version, dir: join(nameDir, version) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The source's `languageModel` block with the figures pruning changed: layers, parameters, and the
 * hidden-state outputs (renumbered 0..layers by the block removal).
 */
function prunedLanguageModel(
  source: Record<string, unknown>,
  size: { layers: number; parameters: number },
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...source, layers: size.layers, parameters: size.parameters };
  if ('hiddenStates' in source) {
    out.hiddenStates =
      `hidden_state_0..hidden_state_${size.layers}, renumbered after pruning: hidden_state_i enters remaining ` +
      `block i, hidden_state_${size.layers} leaves the last one`;
  }
  return out;
}

function healingNote(h: PruningProvenance['healing']): string {
  if (h.method === 'none') return '';
  return h.foldedInto
    ? `; healed by a least-squares map folded into ${h.foldedInto}`
    : '; healed by an inserted least-squares map';
}

/** The version under `nameDir` whose manifest says job `jobId` made it, if any. */
async function versionStoredBy(nameDir: string, jobId: string): Promise<string | undefined> {
  const versions = (await readdir(nameDir, { withFileTypes: true })).filter(
    (e) => e.isDirectory() && !e.name.startsWith('.'),
  );
  for (const v of versions) {
    try {
      const manifest = JSON.parse(await readFile(join(nameDir, v.name, 'model.json'), 'utf8'));
      if (manifest?.provenance?.pruning?.jobId === jobId) return v.name;
    } catch {
      // A version without a readable manifest is not one of ours.
    }
  }
  return undefined;
}
