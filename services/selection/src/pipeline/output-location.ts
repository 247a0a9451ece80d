import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import type { selectionV1 } from '@sift/contracts';
import { type DataRoots, realOrResolved } from '@sift/datasets';
import { SiftError } from '@sift/kit';
import type { ResolvedStep } from './steps.js';

/** Names a job writes into its output folder (`kept.*` and `dropped.*` in the dataset's format). */
const outputFilePattern = /^(kept|dropped)\.(jsonl|jsonl\.gz|parquet)$|^decisions\.jsonl$|^report\.(json|md)$/;

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
        `${field} must be an absolute path on the service's machine, got "${path}"`,
      );
    }
    await dataRoots.check(path, field);
  }
}

/**
 * Checks, before a job is queued, that what it will write cannot destroy what it reads or what is already
 * there:
 * - `output.path` is a folder (or does not exist yet) and, unless `output.overwrite`, holds nothing;
 * - no dataset file lies in the output folder, and the output folder is not inside a dataset folder
 *   (whose next reading would take the outputs for records);
 * - a saved dedup index is not a dataset file, not an existing folder, and not one of the output files.
 * Paths are compared after symlinks are resolved.
 */
export async function checkOutputLocation(
  datasetPaths: readonly string[],
  datasetFiles: readonly string[],
  output: selectionV1.OutputSpec,
  indexSaves: readonly IndexSave[],
  resumedFrom = '',
): Promise<void> {
  const out = await realOrResolved(output.path);
  const outInfo = await stat(out).catch(() => undefined);
  if (outInfo && !outInfo.isDirectory()) {
    throw new SiftError('invalid_argument', `output.path ${output.path} is a file; name a folder for the outputs`);
  }
  const inputs = await Promise.all(datasetFiles.map((f) => realOrResolved(f)));
  const clash = inputs.find((f) => dirname(f) === out);
  if (clash) {
    throw new SiftError(
      'invalid_argument',
      `output.path ${output.path} holds the dataset file ${clash}; write the outputs to a folder of their own`,
    );
  }
  for (const [i, path] of datasetPaths.entries()) {
    const real = await realOrResolved(path);
    if ((await stat(real).catch(() => undefined))?.isDirectory() && isInside(out, real)) {
      throw new SiftError(
        'invalid_argument',
        `output.path ${output.path} is inside the dataset folder dataset.paths[${i}] (${path}): the outputs would be read as records by the next job on it`,
      );
    }
  }
  for (const save of indexSaves) {
    const real = await realOrResolved(save.path);
    if (inputs.includes(real)) {
      throw new SiftError(
        'invalid_argument',
        `${save.field} ${save.path} is a dataset file; saving the index would replace it`,
      );
    }
    if ((await stat(real).catch(() => undefined))?.isDirectory()) {
      throw new SiftError('invalid_argument', `${save.field} ${save.path} is a folder; name the index file to write`);
    }
    if (dirname(real) === out && outputFilePattern.test(real.slice(out.length + 1))) {
      throw new SiftError('invalid_argument', `${save.field} ${save.path} is one of the job's output files`);
    }
  }
  if (outInfo && !output.overwrite) {
    const present = await readdir(out);
    const owner = await outputOwner(out);
    // A job resumed into the folder of the job it resumes takes that folder over.
    if (owner && owner === resumedFrom) return;
    if (owner) {
      throw new SiftError(
        'failed_precondition',
        `output.path ${output.path} is the output folder of job ${owner}; choose another folder or set output.overwrite to replace that job's files`,
      );
    }
    if (present.length > 0) {
      throw new SiftError(
        'failed_precondition',
        `output.path ${output.path} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}); choose an empty folder or set output.overwrite to replace the job's files there`,
      );
    }
  }
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
  return (await readFile(join(folder, outputClaimFile), 'utf8').catch(() => undefined))?.trim() || undefined;
}

/**
 * Reserves `output.path` for job `jobId` at submit: a second job naming the same folder is refused then, not
 * left to replace the first one's files when it finishes. The claim is an exclusive create unless
 * `output.overwrite`, so two submissions racing for one folder cannot both win.
 */
export async function claimOutput(output: selectionV1.OutputSpec, jobId: string, resumedFrom = ''): Promise<void> {
  await mkdir(output.path, { recursive: true });
  const takeOver = output.overwrite || (resumedFrom !== '' && (await outputOwner(output.path)) === resumedFrom);
  try {
    await writeFile(join(output.path, outputClaimFile), `${jobId}\n`, { flag: takeOver ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new SiftError(
      'failed_precondition',
      `output.path ${output.path} is the output folder of job ${await outputOwner(output.path)}; choose another folder or set output.overwrite to replace that job's files`,
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
      `output.path ${output.path} was claimed by job ${owner} (submitted later with output.overwrite) while this job ran; nothing was written`,
    );
  }
}
