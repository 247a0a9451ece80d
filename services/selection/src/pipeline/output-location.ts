import { lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { selectionV1 } from '@sift/contracts';
import { type DataRoots, realOrResolved } from '@sift/datasets';
import { echoed, SiftError } from '@sift/kit';
import { isDedupIndexFile } from '../adapters/dedup-index-files.js';
import type { ResolvedStep } from './steps.js';

/**
 * Names a job writes into its output folder (`kept.*` and `dropped.*` in the dataset's format; `invalid.jsonl`
 * beside a Parquet dropped file).
 */
const outputFilePattern =
  /^(kept|dropped)\.(jsonl|jsonl\.gz|parquet)$|^(decisions|invalid)\.jsonl$|^report\.(json|md)$/;

/** The hidden file an output is written to before it is renamed into place (left behind by a killed job). */
const partialOutputPattern = /^\.(.+)\.\d+-[0-9a-f]{8}\.partial$/;

/** A folder the service keeps for itself (its job records, the model store): no job writes into it. */
export interface ServiceFolder {
  path: string;
  /** What it is, for messages: "the service's data folder (SIFT_SELECTION_DATA_DIR: .data/selection)". */
  description: string;
}

/** The selection service's own folders, from its settings. */
export function serviceFolders(config: { dataDir: string; modelsDir: string }): ServiceFolder[] {
  return [
    {
      path: resolve(config.dataDir),
      description: `the service's data folder (SIFT_SELECTION_DATA_DIR: ${config.dataDir})`,
    },
    { path: resolve(config.modelsDir), description: `the model store (SIFT_MODELS_DIR: ${config.modelsDir})` },
  ];
}

/** A dedup index a step saves, with the request field that names it. */
export interface IndexSave {
  path: string;
  field: string;
}

/** The dedup indexes the steps save. */
export function indexSavesOf(steps: readonly ResolvedStep[]): IndexSave[] {
  return steps.flatMap((s, i) =>
    'index' in s && s.index.save ? [{ path: s.index.save, field: `steps[${i}].index.save_path` }] : [],
  );
}

/**
 * PERMISSION_DENIED unless every path the job reads or writes (dataset, output folder, dedup indexes) lies
 * inside the data roots. Run at submit and again when a worker starts the job, since a path checked at
 * submit may have been replaced by a symlink while the job waited in the queue.
 */
export async function checkJobPaths(
  dataRoots: DataRoots,
  dataset: selectionV1.Dataset,
  output: selectionV1.OutputSpec,
  steps: readonly ResolvedStep[],
): Promise<void> {
  const paths: [string, string][] = [
    ...dataset.paths.map((p, i): [string, string] => [p, `dataset.paths[${i}]`]),
    [output.path, 'output.path'],
    ...steps.flatMap((s, i): [string, string][] =>
      'index' in s ? s.index.load.map((p, j): [string, string] => [p, `steps[${i}].index.load_paths[${j}]`]) : [],
    ),
    ...indexSavesOf(steps).map((s): [string, string] => [s.path, s.field]),
  ];
  for (const [path, field] of paths) {
    // A relative path would resolve against the service's working directory, which the caller cannot see.
    if (!isAbsolute(path)) {
      throw new SiftError(
        'invalid_argument',
        `${field} must be an absolute path on the service's machine, got "${echoed(path)}"`,
      );
    }
    await dataRoots.check(path, field);
  }
}

/** What {@link checkOutputLocation} checks. */
export interface PlannedOutputs {
  datasetPaths: readonly string[];
  /** The dataset's files (its folders listed). */
  datasetFiles: readonly string[];
  output: selectionV1.OutputSpec;
  indexSaves: readonly IndexSave[];
  /** The job this one resumes, whose output folder it may take over; empty for none. */
  resumedFrom?: string;
  /** Folders no output or index may go into. */
  serviceFolders?: readonly ServiceFolder[];
}

/**
 * Checks, before a job is queued, that what it will write cannot destroy what it reads or what is already
 * there:
 * - `output.path` is a folder (or does not exist yet) and holds nothing, or, with `output.overwrite`, only
 *   what a selection job writes there (its outputs, its claim file, dedup indexes): a folder holding
 *   anything else is not a job's output folder, whatever the request says;
 * - no dataset file lies in the output folder, and the output folder is not inside a dataset folder
 *   (whose next reading would take the outputs for records);
 * - a saved dedup index is not a dataset file, not an existing folder, not one of the output files, and
 *   replaces no existing file but a dedup index Sift wrote;
 * - neither the output folder nor an index lies in one of the service's own folders.
 * Paths are compared after symlinks are resolved.
 */
export async function checkOutputLocation(planned: PlannedOutputs): Promise<void> {
  const { datasetPaths, datasetFiles, output, indexSaves, resumedFrom = '' } = planned;
  const shown = echoed(output.path);
  const out = await realOrResolved(output.path);
  const outInfo = await stat(out).catch(() => undefined);
  if (outInfo && !outInfo.isDirectory()) {
    throw new SiftError('invalid_argument', `output.path ${shown} is a file; name a folder for the outputs`);
  }
  const reserved = await Promise.all(
    (planned.serviceFolders ?? []).map(async (f) => ({ ...f, real: await realOrResolved(f.path) })),
  );
  const inService = (path: string) => reserved.find((f) => isInside(path, f.real));
  const outIn = inService(out);
  if (outIn) {
    throw new SiftError(
      'invalid_argument',
      `output.path ${shown} is inside ${outIn.description}, which only the service writes; choose a folder of your own`,
    );
  }
  const inputs = await Promise.all(datasetFiles.map((f) => realOrResolved(f)));
  const clash = inputs.find((f) => dirname(f) === out);
  if (clash) {
    throw new SiftError(
      'invalid_argument',
      `output.path ${shown} holds the dataset file ${echoed(clash)}; write the outputs to a folder of their own`,
    );
  }
  for (const [i, path] of datasetPaths.entries()) {
    const real = await realOrResolved(path);
    if ((await stat(real).catch(() => undefined))?.isDirectory() && isInside(out, real)) {
      throw new SiftError(
        'invalid_argument',
        `output.path ${shown} is inside the dataset folder dataset.paths[${i}] (${echoed(path)}): the outputs would be read as records by the next job on it`,
      );
    }
  }
  for (const save of indexSaves) {
    await checkIndexSave(save, { out, inputs, inService });
  }
  if (!outInfo) return;
  const present = await readdir(out).catch((err: NodeJS.ErrnoException) => {
    throw new SiftError(
      'failed_precondition',
      `output.path ${shown} cannot be read by the service (${err.code}); choose a folder it may read and write`,
      { cause: err },
    );
  });
  if (output.overwrite) {
    const foreign = await firstForeignEntry(out, present);
    if (foreign !== undefined) {
      throw new SiftError(
        'failed_precondition',
        `output.path ${shown} holds ${echoed(foreign)}, which no selection job writes; output.overwrite only replaces the outputs of an earlier job in a folder that holds nothing else, so choose an empty or new folder`,
      );
    }
    return;
  }
  const owner = await outputOwner(out);
  // A job resumed into the folder of the job it resumes takes that folder over.
  if (owner && owner === resumedFrom) return;
  if (owner) {
    throw new SiftError(
      'failed_precondition',
      `output.path ${shown} is the output folder of job ${owner}; choose another folder or set output.overwrite to replace that job's files`,
    );
  }
  if (present.length > 0) {
    throw new SiftError(
      'failed_precondition',
      `output.path ${shown} is not empty (${present
        .slice(0, 3)
        .map((f) => echoed(f))
        .join(
          ', ',
        )}${present.length > 3 ? ', ...' : ''}); choose an empty folder, or set output.overwrite to replace an earlier job's outputs there`,
    );
  }
}

/** The checks of one dedup index a step saves (see {@link checkOutputLocation}). */
async function checkIndexSave(
  save: IndexSave,
  job: { out: string; inputs: readonly string[]; inService: (path: string) => ServiceFolder | undefined },
): Promise<void> {
  const shown = `${save.field} ${echoed(save.path)}`;
  const real = await realOrResolved(save.path);
  const within = job.inService(real);
  if (within) {
    throw new SiftError(
      'invalid_argument',
      `${shown} is inside ${within.description}, which only the service writes; save the index elsewhere`,
    );
  }
  if (job.inputs.includes(real)) {
    throw new SiftError('invalid_argument', `${shown} is a dataset file; saving the index would replace it`);
  }
  const info = await stat(real).catch(() => undefined);
  if (info?.isDirectory()) {
    throw new SiftError('invalid_argument', `${shown} is a folder; name the index file to write`);
  }
  const name = real.slice(job.out.length + 1);
  if (dirname(real) === job.out && (outputFilePattern.test(name) || name === outputClaimFile)) {
    throw new SiftError('invalid_argument', `${shown} is one of the job's output files`);
  }
  if (info && !(await isDedupIndexFile(real))) {
    throw new SiftError(
      'failed_precondition',
      `${shown} exists and is not a Sift dedup index; saving the index would replace it, so name a new file (or an index an earlier job saved)`,
    );
  }
}

/**
 * The first entry of output folder `folder` that no selection job wrote, or undefined: anything but its
 * output files (regular files, not links, which a report would be written through), their temporary files,
 * its claim file and dedup index files.
 */
async function firstForeignEntry(folder: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    const info = await lstat(join(folder, name)).catch(() => undefined);
    if (!info?.isFile()) return name;
    const partial = partialOutputPattern.exec(name)?.[1];
    if (name === outputClaimFile || outputFilePattern.test(name) || (partial && outputFilePattern.test(partial))) {
      continue;
    }
    if (!(await isDedupIndexFile(join(folder, name)))) return name;
  }
  return undefined;
}

/** Whether `path` is `folder` or lies below it. */
function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The file in an output folder that names the job it belongs to. */
export const outputClaimFile = '.sift-job';

/** The job that claimed `folder` as its output, if one did. */
async function outputOwner(folder: string): Promise<string | undefined> {
  const claim = join(folder, outputClaimFile);
  // Only a claim file as a job writes it: a FIFO under that name would block the read for ever.
  const info = await lstat(claim).catch(() => undefined);
  if (!info?.isFile() || info.size > 256) return undefined;
  return (await readFile(claim, 'utf8').catch(() => undefined))?.trim() || undefined;
}

/**
 * Reserves `output.path` for job `jobId` at submit: a second job naming the same folder is refused then, not
 * left to replace the first one's files when it finishes. The claim is an exclusive create unless
 * `output.overwrite`, so two submissions racing for one folder cannot both win.
 */
export async function claimOutput(output: selectionV1.OutputSpec, jobId: string, resumedFrom = ''): Promise<void> {
  // The file system's refusal (a read-only or foreign folder) is the caller's to fix, not an internal error.
  const unwritable = (err: NodeJS.ErrnoException) => {
    throw new SiftError(
      'failed_precondition',
      `output.path ${echoed(output.path)} cannot be written by the service (${err.code ?? err.message}); choose a folder it may write`,
      { cause: err },
    );
  };
  await mkdir(output.path, { recursive: true }).catch(unwritable);
  const takeOver = output.overwrite || (resumedFrom !== '' && (await outputOwner(output.path)) === resumedFrom);
  try {
    await writeFile(join(output.path, outputClaimFile), `${jobId}\n`, { flag: takeOver ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') unwritable(err as NodeJS.ErrnoException);
    throw new SiftError(
      'failed_precondition',
      `output.path ${echoed(output.path)} is the output folder of job ${await outputOwner(output.path)}; choose another folder or set output.overwrite to replace that job's files`,
    );
  }
}

/** Gives up the claim of a job that was not queued after all, so a retry may name the folder again. */
export async function releaseOutput(output: selectionV1.OutputSpec, jobId: string): Promise<void> {
  if ((await outputOwner(output.path)) === jobId) await rm(join(output.path, outputClaimFile), { force: true });
}

/**
 * Before a job writes: fails when another job has claimed its output folder since it was submitted (a later
 * submission with output.overwrite), so the two never mix their files.
 */
export async function checkOutputClaim(output: selectionV1.OutputSpec, jobId: string): Promise<void> {
  const owner = await outputOwner(await realOrResolved(output.path));
  if (owner && owner !== jobId) {
    throw new SiftError(
      'failed_precondition',
      `output.path ${echoed(output.path)} was claimed by job ${owner} (submitted later with output.overwrite) while this job ran; nothing was written`,
    );
  }
}
