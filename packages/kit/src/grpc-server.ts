import {
  status as GrpcStatus,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { readDescriptorSet } from '@sift/contracts';
import { HealthImplementation } from 'grpc-health-check';
import { grpcStatusName, grpcStatusOf } from './errors.js';
import type { Logger } from './logger.js';
import { asSiftError, SiftError } from './sift-error.js';

/** What a handler knows about the call it serves, beyond the request message. */
export interface CallContext {
  /** Aborted when the client cancels or the deadline passes; pass it to anything that waits. */
  readonly signal: AbortSignal;
  /** Absolute deadline in epoch milliseconds, when the client set one. */
  readonly deadline: number | undefined;
  /** Request metadata (headers). */
  readonly metadata: Metadata;
  /** Filled by the handler so the request metric says what the call did. */
  readonly report: CallReport;
}

/** The server's view of a call: settled once its status is sent. */
interface LiveCallContext extends CallContext {
  settled: boolean;
}

/** Per-call facts a handler records for the `requests` metric. */
export interface CallReport {
  batchSize: number;
  model?: { name: string; version: string };
}

/** One finished call, as handed to `onCallFinished`. */
export interface FinishedCall {
  service: string;
  method: string;
  /** Canonical status name, e.g. "OK". */
  status: string;
  latencyMs: number;
  batchSize: number;
  model?: { name: string; version: string };
}

/** A unary handler: decode is done, return the response or throw a SiftError. */
export type UnaryHandler<Req = any, Res = any> = (request: Req, ctx: CallContext) => Promise<Res>;
/** A streaming handler: owns the stream; resolve when done, throw a SiftError to end it with a status. */
export type StreamHandler = (
  call: ServerDuplexStream<any, any> | ServerWritableStream<any, any>,
  ctx: CallContext,
) => Promise<void>;

/** A service to mount: its generated definition and a handler per method (keys as in the definition). */
export interface ServiceBinding {
  definition: ServiceDefinition;
  handlers: Record<string, UnaryHandler | StreamHandler>;
}

export interface GrpcServerOptions {
  /** Short service name for logs and metrics, e.g. "embedding". */
  name: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  services: ServiceBinding[];
  logger: Logger;
  /** Largest request or response message in bytes; bigger ones get RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** Called once per finished call (after the response or error is sent). */
  onCallFinished?: (call: FinishedCall) => void;
}

/** A started server. */
export interface RunningGrpcServer {
  readonly port: number;
  readonly address: string;
  /** Calls being served right now. */
  inFlight(): number;
  /**
   * Stops accepting calls, reports NOT_SERVING, waits up to `graceMs` for in-flight calls to finish,
   * then cancels what is left.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** Fully qualified service name ("sift.embedding.v1.EmbeddingService") from a generated definition. */
export function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error('service definition has no methods');
  return first.path.split('/')[1] ?? '';
}

/**
 * Starts a gRPC server with `grpc.health.v1`, server reflection over every Sift contract, per-call
 * deadline/cancellation signals, SiftError -> status mapping and draining shutdown.
 */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': opts.maxMessageBytes,
  });
  let inFlight = 0;
  const serviceNames = opts.services.map((s) => serviceNameOf(s.definition));
  const health = new HealthImplementation(
    Object.fromEntries([['', 'SERVING'], ...serviceNames.map((n) => [n, 'SERVING'])]),
  );
  health.addToServer(server);
  new ReflectionService(loadFileDescriptorSetFromBuffer(readDescriptorSet())).addToServer(server);

  for (const binding of opts.services) {
    const impl: Record<string, unknown> = {};
    for (const [key, method] of Object.entries(binding.definition)) {
      const handler = binding.handlers[key];
      if (!handler) throw new Error(`no handler for ${method.path}`);
      const methodName = method.path.split('/')[2] ?? key;
      const track = (ctx: LiveCallContext, started: number) => (code: number) => {
        ctx.settled = true;
        inFlight--;
        opts.onCallFinished?.({
          service: opts.name,
          method: methodName,
          status: grpcStatusName(code),
          latencyMs: performance.now() - started,
          batchSize: ctx.report.batchSize,
          ...(ctx.report.model ? { model: ctx.report.model } : {}),
        });
      };
      if (!method.requestStream && !method.responseStream) {
        impl[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          inFlight++;
          const started = performance.now();
          const ctx = callContext(call);
          const done = track(ctx, started);
          (handler as UnaryHandler)(call.request, ctx).then(
            (res) => {
              callback(null, res);
              done(GrpcStatus.OK);
            },
            (err: unknown) => {
              const e = toServiceError(err, opts.logger, methodName);
              callback(e);
              done(e.code);
            },
          );
        };
      } else {
        impl[key] = (call: ServerDuplexStream<unknown, unknown>) => {
          inFlight++;
          const started = performance.now();
          const ctx = callContext(call);
          const done = track(ctx, started);
          (handler as StreamHandler)(call, ctx).then(
            () => {
              call.end();
              done(GrpcStatus.OK);
            },
            (err: unknown) => {
              const e = toServiceError(err, opts.logger, methodName);
              if (!ctx.signal.aborted) call.emit('error', e);
              done(e.code);
            },
          );
        };
      }
    }
    server.addService(binding.definition, impl as never);
  }

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  opts.logger.info('grpc server listening', { port, services: serviceNames });

  let stopping: Promise<void> | undefined;
  return {
    port,
    address: `${opts.host}:${port}`,
    inFlight: () => inFlight,
    shutdown(graceMs = 10_000) {
      stopping ??= new Promise<void>((resolve) => {
        for (const n of ['', ...serviceNames]) health.setStatus(n, 'NOT_SERVING');
        opts.logger.info('draining', { inFlight });
        const timer = setTimeout(() => {
          opts.logger.warn('grace period over; cancelling remaining calls', { inFlight });
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return stopping;
    },
  };
}

function callContext(call: {
  getDeadline(): Date | number;
  metadata: Metadata;
  on(event: 'cancelled', fn: () => void): unknown;
  cancelled?: boolean;
}): LiveCallContext {
  const controller = new AbortController();
  const raw = call.getDeadline();
  const deadlineMs = raw instanceof Date ? raw.getTime() : raw;
  const deadline = Number.isFinite(deadlineMs) ? deadlineMs : undefined;
  // grpc-js also emits 'cancelled' once the status has been sent: an already settled handler has no
  // work to stop, and building the error (a stack trace) for every call was a measurable per-call cost.
  call.on('cancelled', () => {
    if (!controller.signal.aborted && !ctx.settled) {
      controller.abort(new SiftError('cancelled', 'the client cancelled the call or its deadline passed'));
    }
  });
  if (deadline !== undefined) {
    const ms = deadline - Date.now();
    const timer = setTimeout(
      () => controller.abort(new SiftError('deadline_exceeded', 'the call deadline passed before it finished')),
      Math.max(0, ms),
    );
    timer.unref();
    controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }
  const ctx: LiveCallContext = {
    signal: controller.signal,
    deadline,
    metadata: call.metadata,
    report: { batchSize: 0 },
    settled: false,
  };
  return ctx;
}

/** Maps anything a handler threw to a gRPC error; internal errors are logged, never sent in detail. */
export function toServiceError(err: unknown, logger: Logger, method: string): Partial<ServiceError> & { code: number } {
  const e = asSiftError(err);
  if (e.kind === 'internal') logger.error('internal error', { method, err: e.cause ?? e });
  return { code: grpcStatusOf(e.kind), details: e.message, message: e.message };
}
