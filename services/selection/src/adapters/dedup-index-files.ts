import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SiftError } from '@sift/kit/errors';
import {
  type ExactIndex,
  exactDigestName,
  type MinHashIndex,
  type MinHashParams,
  minHashScheme,
  sameTextNormalization,
  shingleUnits,
  textNormalizationOf,
} from '../domain/index.js';

/**
 * Dedup index files: what one job saves so that later jobs can deduplicate against its kept records
 * (`DedupIndex.save_path` / `load_paths`). One binary layout serves both index kinds:
 *
 *   bytes 0–7    magic "SIFTDDIX"
 *   bytes 8–11   format version, uint32 little-endian (2; version 1 had no MinHash sketches)
 *   bytes 12–15  header length H, uint32 LE
 *   16 … 16+H    header, UTF-8 JSON: { kind: "exact" | "minhash", count, ...parameters }
 *   then         count fixed-size keys: exact, the 16-byte digest; minhash, `bands` 64-bit band keys, each
 *                as two uint32 LE (high, low)
 *   then         minhash only: count sketches, each `numPermutations` uint16 LE (the low 16 bits of the
 *                signature, which verify a band match against the threshold)
 *   then         count ids, each a uint32 LE byte length and the id's UTF-8 bytes
 *
 * Keys come before ids so that both are read with fixed strides; the header carries every parameter the
 * keys depend on, so a mismatch is reported before any key is used. A file is written under a temporary
 * name and renamed into place, so a crashed job never leaves a half index behind.
 */

const magic = Buffer.from('SIFTDDIX', 'latin1');
const formatVersion = 2;
const digestBytes = 16;
const chunkBytes = 1 << 20;

interface IndexHeader {
  kind: 'exact' | 'minhash';
  count: number;
  [parameter: string]: unknown;
}

/**
 * Whether `path` is a dedup index file Sift wrote (a regular file that starts with the magic, of any format
 * version): the only kind of existing file a step's `save_path` may replace. Anything else there (another
 * job's job.json, a dataset) is left alone. Reads 8 bytes, and never opens what is not a regular file (a
 * FIFO would block the reader).
 */
export async function isDedupIndexFile(path: string): Promise<boolean> {
  if (!(await stat(path).catch(() => undefined))?.isFile()) return false;
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
  if (!file) return false;
  try {
    const head = Buffer.alloc(magic.length);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === magic.length && head.equals(magic);
  } finally {
    await file.close();
  }
}

/** Writes `index` (the kept records of an exact dedup) to `path`. */
export async function saveExactIndex(path: string, index: ExactIndex): Promise<void> {
  const header: IndexHeader = {
    kind: 'exact',
    count: index.records.size,
    digest: index.digest,
    normalization: index.normalization,
  };
  await writeIndexFile(path, header, async (writer) => {
    for (const digest of index.records.keys()) {
      writer.bytes(Buffer.from(digest, 'hex'));
      if (writer.full) await writer.flush();
    }
    for (const id of index.records.values()) {
      writer.id(id);
      if (writer.full) await writer.flush();
    }
  });
}

/**
 * Reads and merges exact indexes. All must share digest scheme and normalisation; a digest present in
 * several files keeps the id from the first path that has it.
 */
export async function loadExactIndex(paths: readonly string[]): Promise<ExactIndex> {
  let merged: ExactIndex | undefined;
  for (const path of checkPaths(paths)) {
    const { header, body } = await readIndexFile(path, 'exact');
    if (header.digest !== exactDigestName) {
      throw corrupt(path, `uses digest '${String(header.digest)}', this version reads '${exactDigestName}'`);
    }
    const normalization = textNormalizationOf(header.normalization as object);
    const records = merged?.records ?? new Map<string, string>();
    if (merged !== undefined && !sameTextNormalization(merged.normalization, normalization)) {
      throw new SiftError('invalid_argument', `index ${path} was built with another normalisation than ${paths[0]}`);
    }
    const digests = body.take(header.count * digestBytes);
    for (let i = 0; i < header.count; i++) {
      const id = body.id();
      const digest = digests.toString('hex', i * digestBytes, (i + 1) * digestBytes);
      if (!records.has(digest)) records.set(digest, id);
    }
    body.end();
    merged ??= { digest: exactDigestName, normalization, records };
  }
  return merged as ExactIndex;
}

/** Writes `index` (band keys of the kept records of a MinHash dedup) to `path`. */
export async function saveMinHashIndex(path: string, index: MinHashIndex): Promise<void> {
  const { params, ids, bandKeys, sketches } = index;
  await writeIndexFile(path, { kind: 'minhash', count: ids.length, params }, async (writer) => {
    for (let i = 0; i < bandKeys.length; i++) {
      writer.uint32(bandKeys[i] as number);
      if (writer.full) await writer.flush();
    }
    for (let i = 0; i < sketches.length; i++) {
      writer.uint16(sketches[i] as number);
      if (writer.full) await writer.flush();
    }
    for (const id of ids) {
      writer.id(id);
      if (writer.full) await writer.flush();
    }
  });
}

/** Reads and concatenates MinHash indexes; all must have been built with the same parameters. */
export async function loadMinHashIndex(paths: readonly string[]): Promise<MinHashIndex> {
  const parts: MinHashIndex[] = [];
  for (const path of checkPaths(paths)) {
    const { header, body } = await readIndexFile(path, 'minhash');
    const params = minHashParamsOf(header.params, path);
    const differs = parts[0] === undefined ? undefined : differingParam(parts[0].params, params);
    if (differs !== undefined) {
      throw new SiftError('invalid_argument', `index ${path} was built with another ${differs} than ${paths[0]}`);
    }
    const keys = body.take(header.count * params.bands * 8);
    const bandKeys = new Uint32Array(header.count * params.bands * 2);
    for (let i = 0; i < bandKeys.length; i++) bandKeys[i] = keys.readUInt32LE(i * 4);
    const sketchBytes = body.take(header.count * params.numPermutations * 2);
    const sketches = new Uint16Array(header.count * params.numPermutations);
    for (let i = 0; i < sketches.length; i++) sketches[i] = sketchBytes.readUInt16LE(i * 2);
    const ids = Array.from({ length: header.count }, () => body.id());
    body.end();
    parts.push({ params, ids, bandKeys, sketches });
  }
  if (parts.length === 1) return parts[0] as MinHashIndex;
  const first = parts[0] as MinHashIndex;
  return {
    params: first.params,
    ids: parts.flatMap((part) => part.ids),
    bandKeys: concat(
      parts.map((part) => part.bandKeys),
      Uint32Array,
    ),
    sketches: concat(
      parts.map((part) => part.sketches),
      Uint16Array,
    ),
  };
}

/** The arrays one after the other. */
function concat<T extends Uint16Array | Uint32Array>(arrays: T[], Kind: new (length: number) => T): T {
  const out = new Kind(arrays.reduce((sum, a) => sum + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** The first MinHash parameter on which two indexes differ, or undefined. */
function differingParam(a: MinHashParams, b: MinHashParams): string | undefined {
  if (!sameTextNormalization(a.normalization, b.normalization)) return 'normalization';
  const fields = ['scheme', 'shingleUnit', 'ngramSize', 'numPermutations', 'bands', 'rows', 'seed'] as const;
  return fields.find((field) => a[field] !== b[field]);
}

function checkPaths(paths: readonly string[]): readonly string[] {
  if (paths.length === 0) throw new SiftError('invalid_argument', 'index load paths must name at least one file');
  return paths;
}

function corrupt(path: string, problem: string): SiftError {
  return new SiftError('invalid_argument', `index ${path} ${problem}`);
}

function minHashParamsOf(value: unknown, path: string): MinHashParams {
  const v = (value ?? {}) as Record<string, unknown>;
  const integer = (key: string) => {
    const x = v[key];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw corrupt(path, `has no valid params.${key}`);
    return x;
  };
  const shingleUnit = v.shingleUnit as MinHashParams['shingleUnit'];
  if (!shingleUnits.includes(shingleUnit)) throw corrupt(path, 'has no valid params.shingleUnit');
  if (v.scheme !== minHashScheme) {
    throw corrupt(path, `uses MinHash scheme '${String(v.scheme)}', this version reads '${minHashScheme}'`);
  }
  const params: MinHashParams = {
    scheme: minHashScheme,
    normalization: textNormalizationOf(v.normalization as object),
    shingleUnit,
    ngramSize: integer('ngramSize'),
    numPermutations: integer('numPermutations'),
    bands: integer('bands'),
    rows: integer('rows'),
    seed: integer('seed'),
  };
  if (params.bands < 1) throw corrupt(path, 'has no valid params.bands');
  return params;
}

// ------------------------------------------------------------------------------------------------ layout

/**
 * Buffered little-endian writer of one index file. Callers append records and `await flush()` whenever
 * `full`, so memory stays at one chunk whatever the index size; `close` renames the file into place.
 */
class IndexWriter {
  private buffer = Buffer.allocUnsafe(chunkBytes);
  private used = 0;

  private constructor(
    private readonly file: FileHandle,
    private readonly partial: string,
    private readonly path: string,
  ) {}

  static async create(path: string, header: IndexHeader): Promise<IndexWriter> {
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.partial-${process.pid}`;
    const writer = new IndexWriter(await open(partial, 'w'), partial, path);
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const prefix = Buffer.alloc(16);
    magic.copy(prefix, 0);
    prefix.writeUInt32LE(formatVersion, 8);
    prefix.writeUInt32LE(json.length, 12);
    writer.bytes(prefix);
    writer.bytes(json);
    return writer;
  }

  /** True when the buffer should be flushed before more records are appended. */
  get full(): boolean {
    return this.used >= chunkBytes - 4096;
  }

  bytes(data: Buffer): void {
    this.room(data.length);
    data.copy(this.buffer, this.used);
    this.used += data.length;
  }

  uint32(value: number): void {
    this.room(4);
    this.used = this.buffer.writeUInt32LE(value, this.used);
  }

  uint16(value: number): void {
    this.room(2);
    this.used = this.buffer.writeUInt16LE(value, this.used);
  }

  id(id: string): void {
    const length = Buffer.byteLength(id, 'utf8');
    this.room(4 + length);
    this.used = this.buffer.writeUInt32LE(length, this.used);
    this.used += this.buffer.write(id, this.used, 'utf8');
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.file.write(this.buffer, 0, this.used);
    this.used = 0;
  }

  /** Flushes, syncs and renames the file into place; on failure removes the partial file. */
  async close(): Promise<void> {
    try {
      await this.flush();
      await this.file.sync();
    } catch (err) {
      await this.abort();
      throw err;
    }
    await this.file.close();
    await rename(this.partial, this.path);
  }

  async abort(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await rm(this.partial, { force: true });
  }

  // A record larger than the free space gets a buffer of its own size; flush() is the caller's job.
  private room(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.used + bytes));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}

/** Writes a whole index: `records(writer)` appends, awaiting `flush()` whenever the writer is full. */
async function writeIndexFile(
  path: string,
  header: IndexHeader,
  records: (writer: IndexWriter) => Promise<void>,
): Promise<void> {
  // Checked at submit too; again here because the file may have appeared while the job ran.
  if ((await stat(path).catch(() => undefined)) && !(await isDedupIndexFile(path))) {
    throw new SiftError(
      'failed_precondition',
      `${path} exists and is not a Sift dedup index; the index was not saved, so as not to replace it`,
    );
  }
  const writer = await IndexWriter.create(path, header);
  try {
    await records(writer);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  await writer.close();
}

/** Sequential reader over an index file's body that reports truncation with the file's name. */
class BodyReader {
  private at: number;
  constructor(
    private readonly data: Buffer,
    start: number,
    private readonly path: string,
  ) {
    this.at = start;
  }

  take(bytes: number): Buffer {
    if (this.at + bytes > this.data.length) throw corrupt(this.path, 'is truncated');
    const out = this.data.subarray(this.at, this.at + bytes);
    this.at += bytes;
    return out;
  }

  id(): string {
    const length = this.take(4).readUInt32LE(0);
    return this.take(length).toString('utf8');
  }

  end(): void {
    if (this.at !== this.data.length)
      throw corrupt(this.path, `has ${this.data.length - this.at} bytes after its last record`);
  }
}

async function readIndexFile(
  path: string,
  kind: IndexHeader['kind'],
): Promise<{ header: IndexHeader; body: BodyReader }> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SiftError('not_found', `index ${path} does not exist`, { cause: err });
    }
    throw err;
  }
  if (data.length < 16 || !data.subarray(0, 8).equals(magic)) throw corrupt(path, 'is not a Sift dedup index');
  const version = data.readUInt32LE(8);
  if (version !== formatVersion)
    throw corrupt(path, `has format version ${version}, this version reads ${formatVersion}`);
  const headerLength = data.readUInt32LE(12);
  if (16 + headerLength > data.length) throw corrupt(path, 'is truncated');
  let header: IndexHeader;
  try {
    header = JSON.parse(data.toString('utf8', 16, 16 + headerLength)) as IndexHeader;
  } catch (err) {
    throw new SiftError('invalid_argument', `index ${path} has an unreadable header`, { cause: err });
  }
  if (header.kind !== kind) throw corrupt(path, `is of kind '${String(header.kind)}', expected '${kind}'`);
  if (!Number.isSafeInteger(header.count) || header.count < 0) throw corrupt(path, 'has no valid record count');
  return { header, body: new BodyReader(data, 16 + headerLength, path) };
}
