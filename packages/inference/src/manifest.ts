import { SiftError } from '@sift/kit';

/** One graph input or output as the manifest declares it; string dims are dynamic axes. */
export interface TensorSpec {
  name: string;
  dtype: 'float32' | 'int64' | 'int32' | 'uint8' | 'float16';
  shape: (number | string)[];
}

/** `model.json`: see models/README.md for the meaning of each field. */
export interface ModelManifest {
  name: string;
  version: string;
  task: string;
  description: string;
  /** Role -> file name, e.g. { model: "model.onnx" } or { encoder_8x: "encoder_8x.onnx", ... }. */
  graphs?: Record<string, string>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  preprocessing?: Record<string, unknown>;
  embedding?: { dimensions: number; matryoshka?: boolean };
  provenance?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  /** File name -> hex sha256. */
  sha256?: Record<string, string> | string;
  [extra: string]: unknown;
}

/** Checks the fields every consumer relies on; the message names the file and the field. */
export function parseManifest(raw: unknown, where: string): ModelManifest {
  const fail = (msg: string): never => {
    throw new SiftError('failed_precondition', `${where}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('not a JSON object');
  const m = raw as Record<string, unknown>;
  for (const field of ['name', 'version', 'task'] as const) {
    if (typeof m[field] !== 'string' || m[field] === '') fail(`"${field}" must be a non-empty string`);
  }
  if (!Array.isArray(m.inputs) || !Array.isArray(m.outputs)) fail('"inputs" and "outputs" must be arrays');
  if (m.graphs !== undefined && (typeof m.graphs !== 'object' || m.graphs === null)) {
    fail('"graphs" must map a role to a file name');
  }
  return { description: '', ...m } as ModelManifest;
}

/** File of a graph role; single-graph models use role "model" and default to model.onnx. */
export function graphFile(manifest: ModelManifest, role = 'model'): string {
  const file = manifest.graphs?.[role] ?? (role === 'model' ? 'model.onnx' : undefined);
  if (!file) {
    const roles = Object.keys(manifest.graphs ?? { model: '' }).join(', ');
    throw new SiftError(
      'not_found',
      `model ${manifest.name}/${manifest.version} has no graph "${role}" (has: ${roles})`,
    );
  }
  return file;
}
