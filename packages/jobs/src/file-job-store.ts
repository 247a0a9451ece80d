import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commonV1 } from '@sift/contracts';
import { echoed, SiftError } from '@sift/kit';

/** What the worker needs beyond the public Job message. */
export interface RunRecord {
  /** Stages whose results are saved; a restarted job continues after them. */
  completedStages: number;
  cancelRequested: boolean;
}

const terminal = new Set([
  commonV1.JobState.JOB_STATE_SUCCEEDED,
  commonV1.JobState.JOB_STATE_FAILED,
  commonV1.JobState.JOB_STATE_CANCELLED,
]);

/** What every job id looks like: `job-<base36 time>-<8 hex>`. */
const jobIdPattern = /^job-[a-z0-9]+-[0-9a-f]{8}$/;

/** Whether a job state is final. */
export function isTerminal(state: commonV1.JobState): boolean {
  return terminal.has(state);
}

/**
 * Characters of a job id (`job-<base36 time>-<8 hex>`), with room to spare: a longer value is refused before
 * anything repeats it in a message (a megabyte id made a megabyte error).
 */
export const maxJobIdChars = 64;

/** The part of a service's Job message the store relies on. */
export interface JobRecord {
  status?: { jobId: string; state: commonV1.JobState; updatedAtMs: number } | undefined;
}

/** JSON conversion of a service's Job message (its ts-proto `Job` object has exactly these). */
export interface JobCodec<J> {
  fromJSON(object: any): J;
  toJSON(job: J): unknown;
}

/**
 * Jobs as files under `<root>/<job id>/` (job.json = the public Job, run.json = worker bookkeeping,
 * stage snapshots beside them). Replicas share the folder (a volume in a cluster); every write is atomic.
 */
export class FileJobStore<J extends JobRecord> {
  /** Per-job queue of read-modify-write updates, so concurrent updates in this process never interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    readonly root: string,
    private readonly codec: JobCodec<J>,
    /** The service's name, for error messages ("not a selection job id"). */
    readonly service: string,
  ) {}

  /**
   * Creates the job folder and proves it writable, so a service whose data folder is read-only or
   * unreachable refuses to start (naming `setting`) instead of accepting jobs it cannot record.
   */
  async checkWritable(setting: string): Promise<void> {
    const probe = join(this.root, `.write-check-${process.pid}`);
    try {
      await mkdir(this.root, { recursive: true });
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (err) {
      throw new SiftError(
        'failed_precondition',
        `the job folder ${this.root} is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)}); set ${setting} to a folder this service may write`,
      );
    }
  }

  /** A new sortable job id: time prefix + randomness. */
  static newId(): string {
    return `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  }

  dir(jobId: string): string {
    if (!jobIdPattern.test(jobId)) {
      throw new SiftError('invalid_argument', `job_id "${echoed(jobId)}" is not a ${this.service} job id`);
    }
    return join(this.root, jobId);
  }

  async create(job: J): Promise<void> {
    const id = job.status?.jobId ?? '';
    await mkdir(this.dir(id), { recursive: true });
    await this.save(job);
    await this.saveRun(id, { completedStages: 0, cancelRequested: false });
  }

  /** The job record; NOT_FOUND for an unknown id, FAILED_PRECONDITION naming the job when its file is corrupt. */
  async get(jobId: string): Promise<J> {
    const record = join(this.dir(jobId), 'job.json'); // a malformed id is INVALID_ARGUMENT, thrown here
    let text: string;
    try {
      text = await readFile(record, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SiftError('not_found', `unknown job "${jobId}"`);
      // A record that is a folder, or that the service may not read: the job exists but cannot be served.
      throw new SiftError('failed_precondition', `job ${jobId}: its record cannot be read (${code ?? err})`, {
        cause: err,
      });
    }
    try {
      return this.codec.fromJSON(JSON.parse(text));
    } catch (err) {
      throw new SiftError('failed_precondition', `job ${jobId}: its record is unreadable (${(err as Error).message})`, {
        cause: err,
      });
    }
  }

  /**
   * For listings: the job, or undefined when it vanished meanwhile or its record cannot be read. One bad
   * record must not take every listing down; GetJob on it still answers FAILED_PRECONDITION naming it.
   */
  async getIfReadable(jobId: string): Promise<J | undefined> {
    try {
      return await this.get(jobId);
    } catch (err) {
      const kind = (err as { kind?: string }).kind;
      if (kind === 'not_found' || kind === 'failed_precondition') return undefined;
      throw err;
    }
  }

  /**
   * One page of ListJobs, newest first: up to `size` readable jobs that `keep` accepts, after the job named by
   * `pageToken` (the last one of the previous page; empty for the first page), and the next page's token.
   */
  async page(
    pageToken: string,
    size: number,
    keep: (job: J) => boolean,
  ): Promise<{ jobs: J[]; nextPageToken: string }> {
    const ids = await this.list();
    const at = pageToken ? ids.indexOf(pageToken) : -1;
    if (pageToken && at < 0) {
      throw new SiftError(
        'invalid_argument',
        `page_token "${echoed(pageToken)}" is not a token this service gave (or its job is gone); list again from the first page`,
      );
    }
    const jobs: J[] = [];
    let i = at + 1;
    for (; i < ids.length && jobs.length < size; i++) {
      const job = await this.getIfReadable(ids[i] as string);
      if (job && keep(job)) jobs.push(job);
    }
    return { jobs, nextPageToken: i < ids.length ? (ids[i - 1] ?? '') : '' };
  }

  async save(job: J): Promise<void> {
    const id = job.status?.jobId ?? '';
    await writeAtomic(join(this.dir(id), 'job.json'), JSON.stringify(this.codec.toJSON(job), null, 1));
  }

  /** Applies `change` to the stored job and saves it; returns the updated job. */
  update(jobId: string, change: (job: J) => void): Promise<J> {
    const next = (this.locks.get(jobId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const job = await this.get(jobId);
        change(job);
        if (job.status) job.status.updatedAtMs = Date.now();
        await this.save(job);
        return job;
      });
    this.locks.set(jobId, next);
    void next
      .finally(() => {
        if (this.locks.get(jobId) === next) this.locks.delete(jobId);
      })
      .catch(() => undefined);
    return next;
  }

  /** The worker's bookkeeping, with `cancelRequested` read from its own marker file (see `requestCancel`). */
  async run(jobId: string): Promise<RunRecord> {
    const record = join(this.dir(jobId), 'run.json');
    let run: RunRecord;
    try {
      run = JSON.parse(await readFile(record, 'utf8')) as RunRecord;
    } catch (err) {
      throw new SiftError(
        'failed_precondition',
        `job ${jobId}: its run record (run.json) is unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        { cause: err },
      );
    }
    const marked = await access(join(this.dir(jobId), 'cancel-requested')).then(
      () => true,
      () => false,
    );
    return { ...run, cancelRequested: run.cancelRequested || marked };
  }

  /**
   * Records a client's cancel in a file of its own: the worker rewrites run.json after every stage from a
   * copy it read earlier, and a cancel written into run.json in between would be lost.
   */
  async requestCancel(jobId: string): Promise<void> {
    await writeFile(join(this.dir(jobId), 'cancel-requested'), '');
  }

  async saveRun(jobId: string, run: RunRecord): Promise<void> {
    await writeAtomic(join(this.dir(jobId), 'run.json'), JSON.stringify(run));
  }

  /** Job ids, newest first. */
  async list(): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    // Only names a job id can have: a stray copy (`job-x.bak`) must not make every listing fail.
    return names
      .filter((n) => jobIdPattern.test(n))
      .sort()
      .reverse();
  }

  /** The job an idempotency key created, if any. */
  async jobForRequest(requestId: string): Promise<string | undefined> {
    return readFile(this.keyPath(requestId), 'utf8').catch(() => undefined);
  }

  /**
   * Reserves an idempotency key for `jobId` with an exclusive create, so that concurrent submits with one key
   * cannot both win: undefined when this call reserved it, else the job id that holds it.
   */
  async reserveRequest(requestId: string, jobId: string): Promise<string | undefined> {
    await mkdir(join(this.root, 'requests'), { recursive: true });
    try {
      await writeFile(this.keyPath(requestId), jobId, { flag: 'wx' });
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // The holder writes its id right after creating the file: '' is that moment.
      return (await this.jobForRequest(requestId)) ?? '';
    }
  }

  /** Frees a key that `jobId` reserved (its submit failed), unless another job holds it by now. */
  async releaseRequest(requestId: string, jobId: string): Promise<void> {
    if ((await this.jobForRequest(requestId)) === jobId) await rm(this.keyPath(requestId), { force: true });
  }

  /** Seconds since the key was reserved, or undefined when it is not. */
  async requestAgeSeconds(requestId: string): Promise<number | undefined> {
    const info = await stat(this.keyPath(requestId)).catch(() => undefined);
    return info ? (Date.now() - info.mtimeMs) / 1000 : undefined;
  }

  /** Keys of any length and content map to a fixed-length file name. */
  private keyPath(requestId: string): string {
    return join(this.root, 'requests', createHash('sha256').update(requestId).digest('hex'));
  }
}

/** Writes a file so that readers see the old content or the whole new one, never a part (write + rename). */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
