/**
 * Weights stored outside `model.onnx` ("external data": how exporters write a model over protobuf's 2 GiB
 * limit, `onnx.save_model(..., save_as_external_data=True)`). A tensor then holds no values, only a
 * `location` relative to the model's folder, an `offset` and a `length`. The pruning rewrites never touch
 * those values, so a rewritten graph keeps pointing into the source's files: sessions are opened on it from
 * a scratch folder that links to them, the one weight a healing fold changes is read in, and a stored model
 * gets its own data file holding only the tensors it kept.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { SiftError } from '@sift/kit/errors';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { cloneModel, encodeOnnxModel, graphOf, type OnnxModel, toNumber } from './onnx-graph-index.js';

/** Where a graph's external tensors live: files relative to the source model's folder. */
export interface ExternalWeights {
  /** The folder locations are relative to (the source model's). */
  readonly dir: string;
  /** The data files the tensors point into, relative to `dir`. */
  readonly files: readonly string[];
}

/** One tensor's bytes in a data file. */
interface ExternalRef {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** TensorProto.DataLocation.EXTERNAL. */
const externalLocation = 1;

/** Bytes per element of the TensorProto.DataType codes a weight may have. */
const elementBytes: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

/** The data file written beside a stored model's graph. */
export const dataFileName = 'model.onnx.data';

/** Offsets in a written data file are multiples of this, so ONNX Runtime can map tensors from it. */
const alignment = 4096;

function invalid(message: string): SiftError {
  return new SiftError('failed_precondition', message);
}

function isExternal(tensor: OnnxTypes.ITensorProto): boolean {
  return tensor.dataLocation === externalLocation || (tensor.externalData ?? []).length > 0;
}

/** Bytes the tensor's values take, from its element type and dims. */
function valueBytes(tensor: OnnxTypes.ITensorProto): number {
  const size = elementBytes[tensor.dataType ?? 0];
  if (size === undefined)
    throw invalid(`initializer ${tensor.name}: element type ${tensor.dataType} is not read from external data`);
  return (tensor.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1) * size;
}

/** The tensor's location, offset and length, checked to name a file inside the model's folder. */
function externalRef(tensor: OnnxTypes.ITensorProto): ExternalRef {
  const entry = (key: string) => tensor.externalData?.find((e) => e.key === key)?.value ?? undefined;
  const where = `initializer ${tensor.name}`;
  const location = entry('location');
  if (!location) throw invalid(`${where} is stored in external data without a location`);
  const path = normalize(location);
  if (isAbsolute(location) || path === '..' || path.startsWith(`..${sep}`)) {
    throw invalid(`${where}: external data location "${location}" is not inside the model's folder`);
  }
  const number = (key: string, fallback: number) => {
    const value = entry(key);
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isSafeInteger(n) || n < 0)
      throw invalid(`${where}: external data ${key} "${value}" is not a byte count`);
    return n;
  };
  const expected = valueBytes(tensor);
  const length = number('length', expected);
  if (length !== expected)
    throw invalid(`${where}: external data length ${length}, but its dims and type need ${expected} bytes`);
  return { location: path, offset: number('offset', 0), length };
}

/**
 * The external data files of a model stored in `dir`, each checked to be a file inside that folder that
 * holds every byte range pointing into it; undefined when every tensor is inside the graph.
 * failed_precondition naming the tensor or file otherwise.
 */
export async function checkExternalData(model: OnnxModel, dir: string): Promise<ExternalWeights | undefined> {
  const ends = new Map<string, { end: number; tensor: string }>();
  for (const tensor of graphOf(model).initializer ?? []) {
    if (!isExternal(tensor)) continue;
    const ref = externalRef(tensor);
    const end = ref.offset + ref.length;
    if ((ends.get(ref.location)?.end ?? -1) < end) ends.set(ref.location, { end, tensor: tensor.name ?? '' });
  }
  if (ends.size === 0) return undefined;
  for (const [file, { end, tensor }] of ends) {
    const info = await stat(join(dir, file)).catch(() => undefined);
    if (!info?.isFile())
      throw invalid(`external data file ${file} (of initializer ${tensor}) is missing beside the model`);
    if (info.size < end) {
      throw invalid(`external data file ${file} has ${info.size} bytes; initializer ${tensor} reads up to byte ${end}`);
    }
  }
  return { dir, files: [...ends.keys()] };
}

/** Bytes of the model's tensors that live in external data files. */
export function externalByteCount(model: OnnxModel): number {
  return (graphOf(model).initializer ?? []).filter(isExternal).reduce((n, t) => n + externalRef(t).length, 0);
}

function readRange(file: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw invalid(`external data file ${file} ends before byte ${offset + length}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A copy of the model in which the named initializers hold their values (read from external data). */
export function inlineTensors(model: OnnxModel, names: readonly string[], weights: ExternalWeights): OnnxModel {
  const copy = cloneModel(model);
  for (const tensor of graphOf(copy).initializer ?? []) {
    if (!names.includes(tensor.name ?? '') || !isExternal(tensor)) continue;
    const ref = externalRef(tensor);
    tensor.rawData = readRange(join(weights.dir, ref.location), ref.offset, ref.length);
    tensor.externalData = [];
    tensor.dataLocation = 0;
  }
  return copy;
}

/**
 * Calls `use` with the path of `graph` written into a scratch folder in which each data file of `weights`
 * is a link to the source's, so that ONNX Runtime (which resolves locations against the graph file's folder)
 * finds the weights without a copy. The folder is removed when `use` settles: a session reads its weights
 * while it is created.
 */
export async function withGraphFile<T>(
  graph: Uint8Array,
  weights: ExternalWeights,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const folder = await mkdtemp(join(tmpdir(), 'sift-graph-'));
  try {
    for (const file of weights.files) {
      await mkdir(dirname(join(folder, file)), { recursive: true });
      await symlink(join(weights.dir, file), join(folder, file));
    }
    const path = join(folder, 'model.onnx');
    await writeFile(path, graph);
    return await use(path);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * Writes `model` into `outDir` as `model.onnx` plus one data file (`model.onnx.data`) that holds the values
 * of its external tensors, copied from the source's files (aligned, in graph order); tensors inside the
 * graph stay there. Returns the sha256 of both files and their total size.
 */
export async function writeWithExternalData(
  model: OnnxModel,
  weights: ExternalWeights,
  outDir: string,
): Promise<{ sha256: Record<string, string>; bytes: number }> {
  const copy = cloneModel(model);
  const data = await open(join(outDir, dataFileName), 'wx');
  const hash = createHash('sha256');
  let position = 0;
  try {
    const chunk = 16 * 1024 * 1024;
    for (const tensor of graphOf(copy).initializer ?? []) {
      if (!isExternal(tensor)) continue;
      const ref = externalRef(tensor);
      const padding = (alignment - (position % alignment)) % alignment;
      if (padding > 0) {
        const zeros = new Uint8Array(padding);
        await data.write(zeros, 0, padding, position);
        hash.update(zeros);
        position += padding;
      }
      const offset = position;
      const source = await open(join(weights.dir, ref.location), 'r');
      try {
        for (let done = 0; done < ref.length; ) {
          const buffer = new Uint8Array(Math.min(chunk, ref.length - done));
          const { bytesRead } = await source.read(buffer, 0, buffer.length, ref.offset + done);
          if (bytesRead === 0)
            throw invalid(`external data file ${ref.location} ends before byte ${ref.offset + ref.length}`);
          await data.write(buffer, 0, bytesRead, position);
          hash.update(buffer.subarray(0, bytesRead));
          position += bytesRead;
          done += bytesRead;
        }
      } finally {
        await source.close();
      }
      tensor.externalData = [
        { key: 'location', value: dataFileName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(ref.length) },
      ];
      tensor.dataLocation = externalLocation;
    }
  } finally {
    await data.close();
  }
  const graph = encodeOnnxModel(copy);
  await writeFile(join(outDir, 'model.onnx'), graph, { flag: 'wx' });
  return {
    sha256: {
      'model.onnx': createHash('sha256').update(graph).digest('hex'),
      [dataFileName]: hash.digest('hex'),
    },
    bytes: graph.length + position,
  };
}

/**
 * A copy of the model with every initializer of at least `threshold` bytes moved into `outDir`'s data file,
 * as exporters write large models (the test models of this service are built this way from single-file
 * ones). Returns what {@link writeWithExternalData} returns.
 */
export async function saveAsExternalData(
  model: OnnxModel,
  outDir: string,
  threshold = 1024,
): Promise<{ sha256: Record<string, string>; bytes: number }> {
  const copy = cloneModel(model);
  const staged = join(outDir, '.inline-weights');
  await mkdir(outDir, { recursive: true });
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const tensor of graphOf(copy).initializer ?? []) {
    const raw = tensor.rawData;
    if (isExternal(tensor) || !raw || raw.length < threshold) continue;
    parts.push(raw);
    tensor.rawData = new Uint8Array(0);
    tensor.externalData = [
      { key: 'location', value: '.inline-weights' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    tensor.dataLocation = externalLocation;
    offset += raw.length;
  }
  await writeFile(staged, Buffer.concat(parts));
  try {
    return await writeWithExternalData(copy, { dir: outDir, files: ['.inline-weights'] }, outDir);
  } finally {
    await rm(staged, { force: true });
  }
}
