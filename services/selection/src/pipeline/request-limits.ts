import { selectionV1 } from '@sift/contracts';
import { maxJobIdChars } from '@sift/jobs';
import { SiftError } from '@sift/kit';
import { checkStepCount } from './steps.js';

/**
 * How large the values of a selection request may be. A job record keeps its request and every status
 * carries its step names and error: a 7 MB `text_field`, echoed into three jobs' errors, made ListJobs
 * exceed the gRPC message limit for every client. The bounds are far beyond any real request.
 */
export const requestLimits = {
  /** Characters of a record field name (`text_field`, `id_field`) and of a step name. */
  nameChars: 256,
  /** Characters of a model name or version, a tokenizer name. */
  modelRefChars: 256,
  /** Characters of one path (PATH_MAX on Linux). */
  pathChars: 4096,
  /** Dataset paths, and index paths to load per step (a folder stands for all the files in it). */
  paths: 10_000,
  /** Characters of `request_id`. */
  requestIdChars: 1024,
  /** Characters of a job id, as every job RPC bounds it. */
  jobIdChars: maxJobIdChars,
  /** Values in a SemDeDup `report_eps` sweep. */
  reportEps: 100,
  /** Encoded bytes of the whole request: GetJob answers it again, with the report, under the same limit. */
  requestBytes: 4 * 1024 * 1024,
} as const;

/**
 * INVALID_ARGUMENT naming the field and its limit when a value of `req` is beyond {@link requestLimits};
 * run first at submit, before any value is used, looked up or repeated in a message.
 */
export function checkRequestLimits(req: selectionV1.SubmitJobRequest): void {
  checkStepCount(req.steps);
  const dataset = req.dataset;
  if (dataset) {
    checkCount(dataset.paths, requestLimits.paths, 'dataset.paths', 'paths', 'name their folder instead');
    for (const [i, p] of dataset.paths.entries()) checkLength(p, requestLimits.pathChars, `dataset.paths[${i}]`);
    checkLength(dataset.textField, requestLimits.nameChars, 'dataset.text_field');
    checkLength(dataset.idField, requestLimits.nameChars, 'dataset.id_field');
  }
  if (req.output) checkLength(req.output.path, requestLimits.pathChars, 'output.path');
  checkLength(req.requestId, requestLimits.requestIdChars, 'request_id');
  checkLength(req.resumeJobId, requestLimits.jobIdChars, 'resume_job_id');
  for (const [i, step] of req.steps.entries()) {
    const at = `steps[${i}]`;
    checkLength(step.name, requestLimits.nameChars, `${at}.name`);
    const kind = step.kind;
    if (!kind) continue;
    const modelRef = (ref: { name: string; version: string } | undefined, field: string) => {
      checkLength(ref?.name ?? '', requestLimits.modelRefChars, `${field}.name`);
      checkLength(ref?.version ?? '', requestLimits.modelRefChars, `${field}.version`);
    };
    switch (kind.$case) {
      case 'exactDedup':
      case 'minhashDedup': {
        const index = kind.value.index;
        if (!index) break;
        // Named as the path checks name them.
        const field = `${at}.index`;
        checkCount(index.loadPaths, requestLimits.paths, `${field}.load_paths`, 'paths');
        for (const [j, p] of index.loadPaths.entries()) {
          checkLength(p, requestLimits.pathChars, `${field}.load_paths[${j}]`);
        }
        checkLength(index.savePath, requestLimits.pathChars, `${field}.save_path`);
        break;
      }
      case 'embed':
        modelRef(kind.value.model, `${at}.embed.model`);
        break;
      case 'textQuality':
        modelRef(kind.value.languageModel, `${at}.text_quality.language_model`);
        break;
      case 'longFilePruning':
        modelRef(kind.value.tokenizer, `${at}.long_file_pruning.tokenizer`);
        break;
      case 'semDedup':
        checkCount(kind.value.reportEps, requestLimits.reportEps, `${at}.sem_dedup.report_eps`, 'values');
        break;
    }
  }
  // Last: each value within its bound can still add up (10,000 paths of 4,096 characters).
  const size = selectionV1.SubmitJobRequest.encode(req).finish().length;
  if (size > requestLimits.requestBytes) {
    throw new SiftError(
      'invalid_argument',
      `the request is ${size} bytes; a selection job request has at most ${requestLimits.requestBytes} (name dataset folders instead of each file)`,
    );
  }
}

function checkLength(value: string, max: number, field: string): void {
  if (value.length > max) {
    throw new SiftError('invalid_argument', `${field} has ${value.length} characters; at most ${max}`);
  }
}

function checkCount(values: readonly unknown[], max: number, field: string, noun: string, hint = ''): void {
  if (values.length > max) {
    throw new SiftError(
      'invalid_argument',
      `${field}: ${values.length} ${noun}; at most ${max}${hint ? ` (${hint})` : ''}`,
    );
  }
}
