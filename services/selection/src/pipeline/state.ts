import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '@sift/jobs';
import { SiftError } from '@sift/kit';

/** Why a record left the pipeline (names follow selection.v1 DecisionReason). */
export type DropReason =
  | 'semantic-duplicate'
  | 'prototypical'
  | 'too-hard'
  | 'density-quota'
  | 'small-cluster'
  | 'far-from-centroid'
  | 'long-file'
  | 'low-quality'
  | 'exact-duplicate'
  | 'near-duplicate'
  | 'indexed-duplicate'
  | 'unreadable'
  | 'invalid-record';

/** The first (and only) drop of a record: the stage that dropped it and why. */
export interface Drop {
  stage: string;
  reason: DropReason;
  duplicateOf?: number;
  /** Id of the record of an earlier dataset's index that this one duplicates. */
  indexedDuplicateOf?: string;
  cluster?: number;
  score?: number;
  /** For an invalid record: the reader's reason and its location (`reason at file:line`). */
  detail?: string;
}

/** Cluster assignment of the records alive when the clustering ran (-1 for the others). */
export interface Clustering {
  k: number;
  labels: Int32Array;
  /** Unit centroids [k, dims]. */
  centroids: Float32Array;
  /** Cosine of each clustered record to its centroid. */
  similarity: Float32Array;
}

/**
 * Everything a stage reads and writes. Records are addressed by their position in the dataset; `alive`
 * marks those still kept. Each stage's result is saved before the next starts, so a restarted job
 * continues after the last saved stage.
 */
export interface PipelineState {
  /** Every record read, invalid ones skipped at load included (their text is '', and they are never alive). */
  ids: string[];
  texts: string[];
  alive: Uint8Array;
  drops: Map<number, Drop>;
  embeddings?: { vectors: Float32Array; dims: number; model: string };
  clustering?: Clustering;
  /** Per stage: facts for the report (eps sweep, cluster sizes, ...). */
  stageFacts: Record<string, unknown>[];
  /** Per alive record, the score of the last stage that scored it (a kept record's decision carries it). */
  keptScores?: KeptScores;
}

/** Scores of records still alive: `stage[i]` indexes `stages` (-1: none yet), `score[i]` is that stage's. */
export interface KeptScores {
  stages: string[];
  stage: Int16Array;
  score: Float64Array;
}

/** Records the score a stage gave a record it kept; a later scoring stage replaces it. */
export function scoreKept(state: PipelineState, index: number, stage: string, score: number): void {
  if (!state.alive[index] || !Number.isFinite(score)) return;
  const n = state.ids.length;
  state.keptScores ??= { stages: [], stage: new Int16Array(n).fill(-1), score: new Float64Array(n) };
  const s = state.keptScores;
  let k = s.stages.indexOf(stage);
  if (k < 0) k = s.stages.push(stage) - 1;
  s.stage[index] = k;
  s.score[index] = score;
}

/** The stage and score a kept record's decision reports, or undefined when no stage scored it. */
export function keptScoreOf(state: PipelineState, index: number): { stage: string; score: number } | undefined {
  const k = state.keptScores?.stage[index] ?? -1;
  if (k < 0 || !state.keptScores) return undefined;
  return { stage: state.keptScores.stages[k] as string, score: state.keptScores.score[index] as number };
}

/**
 * The state before the first stage: every record alive but the invalid ones the load skipped (position ->
 * the reader's reason and location), which are dropped by stage "load" as invalid records.
 */
export function initialState(ids: string[], texts: string[], invalid: ReadonlyMap<number, string>): PipelineState {
  const state: PipelineState = {
    ids,
    texts,
    alive: new Uint8Array(ids.length).fill(1),
    drops: new Map(),
    stageFacts: [],
  };
  for (const [i, detail] of invalid) drop(state, i, { stage: 'load', reason: 'invalid-record', detail });
  return state;
}

/** Indices of alive records, ascending. */
export function aliveIndices(state: PipelineState): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < state.alive.length; i++) if (state.alive[i]) out.push(i);
  return Int32Array.from(out);
}

/** Marks a record dropped with its reason (a record is dropped once; later stages never see it). */
export function drop(state: PipelineState, index: number, d: Drop): void {
  if (!state.alive[index]) return;
  state.alive[index] = 0;
  state.drops.set(index, d);
}

const bytes = (a: Float32Array | Float64Array | Int32Array | Int16Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const asF32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const asI32 = (b: Buffer) => new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const asI16 = (b: Buffer) => new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const asF64 = (b: Buffer) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/**
 * Saves the state after stage `stageIndex` under `dir`: the alive mask, the drops, the stage facts, the
 * current clustering as raw int32/float32 files, and the embedding matrix when this stage made it. Each file
 * is written atomically under a temporary name of its own, so two replicas that both run the job never
 * interleave their writes and a crash never leaves half a file.
 */
export async function saveSnapshot(
  dir: string,
  stageIndex: number,
  state: PipelineState,
  embeddingsChanged: boolean,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (state.embeddings && embeddingsChanged) {
    await writeAtomic(join(dir, 'embeddings.f32'), bytes(state.embeddings.vectors));
  }
  if (state.clustering) {
    await writeAtomic(join(dir, `stage-${stageIndex}.labels.i32`), bytes(state.clustering.labels));
    await writeAtomic(join(dir, `stage-${stageIndex}.centroids.f32`), bytes(state.clustering.centroids));
    await writeAtomic(join(dir, `stage-${stageIndex}.similarity.f32`), bytes(state.clustering.similarity));
  }
  if (state.keptScores) {
    await writeAtomic(join(dir, `stage-${stageIndex}.kept-score-stage.i16`), bytes(state.keptScores.stage));
    await writeAtomic(join(dir, `stage-${stageIndex}.kept-score.f64`), bytes(state.keptScores.score));
  }
  const snapshot = {
    stageIndex,
    alive: Buffer.from(state.alive).toString('base64'),
    drops: [...state.drops.entries()],
    embeddings: state.embeddings ? { dims: state.embeddings.dims, model: state.embeddings.model } : undefined,
    clustering: state.clustering ? { k: state.clustering.k } : undefined,
    keptScoreStages: state.keptScores?.stages,
    stageFacts: state.stageFacts,
  };
  await writeAtomic(join(dir, `stage-${stageIndex}.json`), JSON.stringify(snapshot));
}

/** Restores the state saved after stage `stageIndex` onto freshly loaded records. */
export async function loadSnapshot(
  dir: string,
  stageIndex: number,
  ids: string[],
  texts: string[],
): Promise<PipelineState> {
  const n = ids.length;
  const snapshotFile = join(dir, `stage-${stageIndex}.json`);
  let s: SavedSnapshot;
  try {
    s = JSON.parse(await readFile(snapshotFile, 'utf8'));
  } catch (err) {
    throw damaged(snapshotFile, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  const state: PipelineState = {
    ids,
    texts,
    alive: new Uint8Array(Buffer.from(String(s.alive ?? ''), 'base64')),
    drops: new Map(s.drops),
    stageFacts: s.stageFacts,
  };
  if (state.alive.length !== n) {
    throw new Error(`saved state has ${state.alive.length} records but the dataset now has ${n}`);
  }
  // Every array is checked against the record count: a truncated file would otherwise be read as fewer
  // (or shifted) values and the job would succeed with wrong decisions.
  const read = async <T extends { length: number }>(name: string, as: (b: Buffer) => T, length: number) => {
    const path = join(dir, name);
    const values = as(
      await readFile(path).catch((err: NodeJS.ErrnoException) =>
        Promise.reject(damaged(path, err.code ?? err.message)),
      ),
    );
    if (values.length !== length) throw damaged(path, `${values.length} values where the job needs ${length}`);
    return values;
  };
  if (s.embeddings) {
    state.embeddings = { vectors: await read('embeddings.f32', asF32, n * s.embeddings.dims), ...s.embeddings };
  }
  if (s.clustering) {
    const dims = state.embeddings?.dims ?? 0;
    state.clustering = {
      k: s.clustering.k,
      labels: await read(`stage-${stageIndex}.labels.i32`, asI32, n),
      centroids: await read(`stage-${stageIndex}.centroids.f32`, asF32, s.clustering.k * dims),
      similarity: await read(`stage-${stageIndex}.similarity.f32`, asF32, n),
    };
  }
  if (s.keptScoreStages) {
    state.keptScores = {
      stages: s.keptScoreStages,
      stage: await read(`stage-${stageIndex}.kept-score-stage.i16`, asI16, n),
      score: await read(`stage-${stageIndex}.kept-score.f64`, asF64, n),
    };
  }
  return state;
}

/** What a stage snapshot's JSON holds (see {@link saveSnapshot}). */
interface SavedSnapshot {
  alive: string;
  drops: [number, Drop][];
  embeddings?: { dims: number; model: string };
  clustering?: { k: number };
  keptScoreStages?: string[];
  stageFacts: Record<string, unknown>[];
}

/** A saved stage file that cannot be used: the job fails naming it rather than run on wrong data. */
function damaged(path: string, why: string): SiftError {
  return new SiftError(
    'failed_precondition',
    `the saved stage file ${path} is damaged (${why}); submit the job again without resume_job_id`,
  );
}
