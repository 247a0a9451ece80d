import { setMaxListeners } from 'node:events';
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
import { InvalidUtf8Error, readDescriptorSet } from '@sift/contracts';
import { HealthImplementation } from 'grpc-health-check';
import { grpcStatusName, grpcStatusOf } from './errors.js';
import type { Logger } from './logger.js';
import { clipEchoes } from './message-text.js';
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

/**
 * Throws when the caller is gone: its signal aborted (cancelled, or the deadline timer fired) or its deadline
 * has passed (a handler that kept the event loop busy may run before the timer does). Call it before an
 * effect the caller would not learn of, such as creating a job: a call answered CANCELLED or
 * DEADLINE_EXCEEDED must not have done it.
 */
export function requireCallOpen(call: Pick<CallContext, 'signal' | 'deadline'>): void {
  if (call.signal.aborted) {
    const reason: unknown = call.signal.reason;
    throw reason instanceof SiftError ? reason : new SiftError('cancelled', 'the client cancelled the call');
  }
  if (call.deadline !== undefined && Date.now() >= call.deadline) {
    throw new SiftError('deadline_exceeded', 'the call deadline passed before it finished');
  }
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
  /** HTTP status code answered, for requests the HTTP gateway served. */
  httpStatus?: number;
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
  // Only the services this server mounts: a client listing them must not see five it would get UNIMPLEMENTED from.
  new ReflectionService(loadFileDescriptorSetFromBuffer(readDescriptorSet()), { services: serviceNames }).addToServer(
    server,
  );

  for (const binding of opts.services) {
    const impl: Record<string, unknown> = {};
    const definition = withCheckedRequests(binding.definition);
    for (const [key, method] of Object.entries(definition)) {
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
          const serve = async () => (handler as UnaryHandler)(requireWellFormed(call.request), ctx);
          serve().then(
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
          const serve = async () => {
            // A server-streaming call's one request is decoded before the handler runs.
            if (!method.requestStream) requireWellFormed((call as { request?: unknown }).request);
            return (handler as StreamHandler)(call, ctx);
          };
          serve().then(
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
    server.addService(definition, impl as never);
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
  // A streaming call has listeners per piece of work in flight (each batched chunk waits on the signal);
  // Node's default warning at 11 listeners would report a leak that is not one.
  setMaxListeners(256, controller.signal);
  const raw = call.getDeadline();
  const deadlineMs = raw instanceof Date ? raw.getTime() : raw;
  const deadline = Number.isFinite(deadlineMs) ? deadlineMs : undefined;
  // grpc-js also emits 'cancelled' once the status has been sent: an already settled handler has no
  // work to stop, and building the error (a stack trace) for every call was a measurable per-call cost.
  // When a deadline passes, the client's timer usually fires first and resets the stream: the server sees
  // a cancellation, a little before its own deadline (the client's clock started earlier, by the call's
  // transit time). A cancellation that close to the deadline is the deadline passing, and is reported (and
  // recorded) as such; an earlier one is the client's choice.
  const arrived = Date.now();
  call.on('cancelled', () => {
    if (controller.signal.aborted || ctx.settled) return;
    const slack = deadline === undefined ? 0 : Math.min(1000, Math.max(50, 0.1 * (deadline - arrived)));
    controller.abort(
      deadline !== undefined && Date.now() >= deadline - slack
        ? new SiftError('deadline_exceeded', 'the call deadline passed before it finished')
        : new SiftError('cancelled', 'the client cancelled the call'),
    );
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
  const message = clipEchoes(e.message);
  return { code: grpcStatusOf(e.kind), details: message, message };
}

/**
 * A request message that failed protobuf decoding. grpc-js answers a decoder exception with INTERNAL
 * ("Error deserializing request"), which tells the caller the server broke; the decoder is wrapped so the
 * failure reaches the handler wrapper instead, and the caller gets INVALID_ARGUMENT saying what was wrong.
 */
class MalformedRequest {
  constructor(
    readonly method: string,
    readonly reason: string,
    /** A string field held bytes that are not UTF-8: the content is wrong, not the encoding of the message. */
    readonly invalidUtf8: boolean,
  ) {}
}

/** The service definition with decoders that return a {@link MalformedRequest} instead of throwing. */
function withCheckedRequests(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) {
    const methodName = method.path.split('/')[2] ?? key;
    out[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          return new MalformedRequest(methodName, reason, err instanceof InvalidUtf8Error);
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/**
 * Throws INVALID_ARGUMENT when `message` could not be decoded; returns it otherwise. Handlers of
 * client-streaming methods call this on every message they read.
 */
export function requireWellFormed<T>(message: T): T {
  if (message instanceof MalformedRequest) {
    // The generated types hold 64-bit integers in JavaScript numbers (ts-proto `forceLong=number`): a value
    // beyond 2^53 - 1 is well-formed protobuf that this service cannot hold, a value error and not an encoding one.
    if (/Number\.(MAX|MIN)_SAFE_INTEGER/.test(message.reason)) {
      throw new SiftError(
        'invalid_argument',
        `the ${message.method} request has a 64-bit integer field beyond 9007199254740991 (2^53 - 1) in magnitude, the largest value this service takes`,
      );
    }
    if (message.invalidUtf8) {
      throw new SiftError(
        'invalid_argument',
        `the ${message.method} request has a string field whose bytes are not valid UTF-8; protobuf strings must be UTF-8 text: decode the source text to Unicode (from its real encoding) before sending it`,
      );
    }
    throw new SiftError(
      'invalid_argument',
      `the ${message.method} request is not a valid protobuf message (${message.reason}); encode it with the sift contracts`,
    );
  }
  return message;
}
