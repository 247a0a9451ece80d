import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { type Logger, SiftError } from '@sift/kit';
import * as ort from 'onnxruntime-node';
import { graphFile } from './manifest.js';
import type { StoredModel } from './model-store.js';
import { type GraphSession, WorkerSession, type WorkerSessionOptions } from './worker-session.js';

/** Which execution provider to ask ONNX Runtime for. */
export type ProviderPreference = 'cuda' | 'cpu';

/**
 * Which thread computes a graph. `worker`: its own worker thread, so the event loop keeps serving while the
 * model runs (long calls in a service: pruning passes, language-model scoring). `main`: the calling thread,
 * no message passing (short calls: embedding batches, the numeric kernels, scripts).
 */
export type SessionThread = 'worker' | 'main';

/** A loaded graph and the provider that actually runs it. */
export interface LoadedGraph {
  readonly session: GraphSession;
  readonly provider: ProviderPreference;
  readonly model: StoredModel;
  readonly role: string;
}

export interface SessionCacheOptions {
  provider: ProviderPreference;
  logger: Logger;
  /** Intra-op threads for the CPU provider; 0 lets ONNX Runtime choose. */
  intraOpThreads?: number;
  /**
   * Where graphs compute; default `main`. A worker thread costs ~0.25 ms and ~25% more CPU per call on the
   * project's 2-core machine (bench/README.md), so it pays where calls are long: scoring and pruning jobs
   * in services that must keep answering while they run.
   */
  thread?: SessionThread;
}

/**
 * Opens a graph on the preferred provider. CUDA is requested when preferred; when its libraries are absent
 * ONNX Runtime throws, and the graph is opened on CPU instead with a warning that names the reason, so a
 * GPU-less machine serves rather than crashes. Logs which provider runs the graph.
 */
export async function openSession(
  source: string | Uint8Array,
  options: WorkerSessionOptions,
  provider: ProviderPreference,
  log: Logger,
  thread: SessionThread = 'main',
): Promise<{ session: GraphSession; provider: ProviderPreference }> {
  if (provider === 'cuda') {
    try {
      const session = await create(source, { ...options, executionProviders: ['cuda'] }, thread);
      log.info('graph loaded', { provider: 'cuda', thread });
      return { session, provider: 'cuda' };
    } catch (err) {
      log.warn('CUDA execution provider unavailable; falling back to CPU', {
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  }
  const session = await create(source, { ...options, executionProviders: ['cpu'] }, thread);
  log.info('graph loaded', { provider: 'cpu', thread });
  return { session, provider: 'cpu' };
}

function create(
  source: string | Uint8Array,
  options: WorkerSessionOptions,
  thread: SessionThread,
): Promise<GraphSession> {
  if (thread === 'worker') return WorkerSession.create(source, options);
  return typeof source === 'string'
    ? ort.InferenceSession.create(source, options)
    : ort.InferenceSession.create(source, options);
}

/**
 * Opens each (model version, graph) once and shares the session. CUDA is requested when configured; when
 * its libraries are absent ONNX Runtime throws, and the graph is opened on CPU instead with a warning that
 * names the reason, so a GPU-less machine serves rather than crashes.
 */
export class SessionCache {
  private readonly graphs = new Map<string, Promise<LoadedGraph>>();

  constructor(private readonly opts: SessionCacheOptions) {}

  /** The session for `role` of `model`, opened on first use. */
  get(model: StoredModel, role = 'model'): Promise<LoadedGraph> {
    const key = `${model.name}/${model.version}/${role}`;
    let graph = this.graphs.get(key);
    if (!graph) {
      graph = this.open(model, role);
      this.graphs.set(key, graph);
      graph.catch(() => this.graphs.delete(key));
    }
    return graph;
  }

  /** Releases every session. */
  async close(): Promise<void> {
    const all = [...this.graphs.values()];
    this.graphs.clear();
    await Promise.all(all.map(async (g) => (await g.catch(() => undefined))?.session.release()));
  }

  private async open(model: StoredModel, role: string): Promise<LoadedGraph> {
    const file = graphFile(model.manifest, role);
    const path = join(model.dir, file);
    await checkSha256(model, file);
    const base: WorkerSessionOptions = {
      graphOptimizationLevel: 'all',
      // Idle intra-op threads would otherwise spin for work and take the cores the gRPC and featurizing
      // code needs between model calls (measured: several times lower throughput on 2 cores).
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      ...(this.opts.intraOpThreads ? { intraOpNumThreads: this.opts.intraOpThreads } : {}),
    };
    const log = this.opts.logger.child({ model: `${model.name}/${model.version}`, graph: role });
    try {
      const { session, provider } = await openSession(path, base, this.opts.provider, log, this.opts.thread ?? 'main');
      return { session, provider, model, role };
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new SiftError(
        'failed_precondition',
        `model ${model.name}/${model.version}: cannot load ${path} (${reason})`,
        {
          cause: err,
        },
      );
    }
  }
}

/**
 * FAILED_PRECONDITION when the manifest lists a sha256 for `file` and the file on disk has another: a graph
 * changed (or was damaged) after its model was stored would otherwise be served as if it were that model.
 * `bytes`: the file's content when the caller has already read it; otherwise the file is read as a stream
 * (a weights file may be larger than one buffer can hold).
 */
export async function checkSha256(model: StoredModel, file: string, bytes?: Uint8Array): Promise<void> {
  const declared = model.manifest.sha256;
  const expected =
    typeof declared === 'string' ? (file === graphFile(model.manifest) ? declared : undefined) : declared?.[file];
  if (!expected) return;
  const hash = createHash('sha256');
  if (bytes) hash.update(bytes);
  else for await (const chunk of createReadStream(join(model.dir, file))) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  if (actual !== expected) {
    throw new SiftError(
      'failed_precondition',
      `model ${model.name}/${model.version}: ${file} has sha256 ${actual.slice(0, 12)}…, its manifest says ${expected.slice(0, 12)}…; the file changed after the model was stored`,
    );
  }
}
