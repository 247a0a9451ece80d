import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/**
 * What the services need of an ONNX Runtime session. `ort.InferenceSession` (the graph on the calling
 * thread) and `WorkerSession` (the graph on its own thread) both are one.
 */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared type and shape of each input (symbolic axes by name), as `InferenceSession` reports them. */
  readonly inputMetadata?: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  /** Computes only `fetches` (mind `runOutputs` for subsets on onnxruntime-node 1.23). */
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

/** A tensor as it crosses the thread boundary. */
interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

type FromWorker =
  | {
      kind: 'ready';
      inputNames: string[];
      outputNames: string[];
      inputMetadata: ort.InferenceSession.ValueMetadata[];
    }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; outputs?: Record<string, WireTensor>; error?: string }
  | { kind: 'released' };

interface PendingRun {
  resolve(outputs: Record<string, ort.Tensor>): void;
  reject(err: Error): void;
}

/** Options that survive the trip to the worker (no functions, no class instances). */
export type WorkerSessionOptions = Pick<
  ort.InferenceSession.SessionOptions,
  | 'executionProviders'
  | 'graphOptimizationLevel'
  | 'intraOpNumThreads'
  | 'interOpNumThreads'
  | 'extra'
  | 'logSeverityLevel'
>;

const workerFile = new URL('./ort-worker.mjs', import.meta.url);

/**
 * An ONNX Runtime session on its own worker thread. onnxruntime-node computes `run` synchronously on the
 * calling thread, so a session on the main thread blocks the event loop for the whole model call: no gRPC
 * reads or writes, deadline timers or health answers meanwhile, and no overlap between one batch's model
 * call and the decoding and featurizing of the next. Here the main thread posts the feeds and the worker
 * computes; runs queue in the worker in submission order. Inputs are copied to the worker, outputs
 * transferred back without a copy.
 */
export class WorkerSession implements GraphSession {
  private readonly pending = new Map<number, PendingRun>();
  private nextId = 0;
  private stopped: Error | undefined;
  private released: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    worker.on('message', (msg: FromWorker) => {
      if (msg.kind !== 'result') return;
      const run = this.pending.get(msg.id);
      if (!run) return;
      this.settle(msg.id);
      if (msg.error !== undefined || !msg.outputs) run.reject(new Error(msg.error ?? 'the worker returned no outputs'));
      else run.resolve(fromWire(msg.outputs));
    });
    const stop = (why: Error) => {
      this.stopped ??= why;
      for (const [id, run] of this.pending) {
        this.settle(id);
        run.reject(why);
      }
    };
    worker.on('error', (err) => stop(new Error(`the ONNX Runtime worker thread failed: ${err.message}`)));
    worker.on('exit', (code) => stop(new Error(`the ONNX Runtime worker thread exited (code ${code})`)));
    // An idle worker does not keep the process alive; one with runs in flight does (see `run`).
    worker.unref();
  }

  /** Opens `source` (a path or the graph's bytes) on a new worker thread; throws as `InferenceSession.create` does. */
  static async create(source: string | Uint8Array, options: WorkerSessionOptions): Promise<WorkerSession> {
    const worker = new Worker(workerFile, { workerData: { source, options } });
    const ready = await new Promise<FromWorker>((resolve, reject) => {
      // Removed one by one afterwards: Worker's own listeners (its message port's referencing) must stay.
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (msg: FromWorker) => {
        done();
        resolve(msg);
      };
      const onError = (err: Error) => {
        done();
        reject(err);
      };
      const onExit = (code: number) => onError(new Error(`the ONNX Runtime worker thread exited (code ${code})`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    if (ready.kind !== 'ready') {
      await worker.terminate();
      throw new Error(
        ready.kind === 'failed' ? ready.message : `unexpected first message from the worker: ${ready.kind}`,
      );
    }
    return new WorkerSession(worker, ready.inputNames, ready.outputNames, ready.inputMetadata);
  }

  run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    if (this.released) return Promise.reject(new Error('the session was released'));
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(feeds)) wire[name] = { type: t.type, data: compact(t.data), dims: t.dims };
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: 'run', id, feeds: wire, ...(fetches ? { fetches: [...fetches] } : {}) });
    });
  }

  /** Finishes queued runs, releases the session and ends the thread. */
  release(): Promise<void> {
    this.released ??= (async () => {
      if (this.stopped) return;
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.worker.ref();
      this.worker.postMessage({ kind: 'release' });
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      await exited;
      clearTimeout(timer);
    })();
    return this.released;
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }
}

/** A view over part of a larger buffer would send the whole buffer: send just its bytes. */
function compact(data: ort.Tensor.DataType): ort.Tensor.DataType {
  if (!ArrayBuffer.isView(data) || data.byteLength === data.buffer.byteLength) return data;
  return (data as Float32Array).slice();
}

function fromWire(outputs: Record<string, WireTensor>): Record<string, ort.Tensor> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(outputs)) {
    tensors[name] = new ort.Tensor(t.type as never, t.data as never, t.dims);
  }
  return tensors;
}
