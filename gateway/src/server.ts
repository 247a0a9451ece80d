import { createServer, type IncomingMessage, maxHeaderSize, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { Bus, RequestMetricsPublisher } from '@sift/bus';
import { pruningV1, selectionV1 } from '@sift/contracts';
import { type FinishedCall, grpcStatusName, grpcStatusOf, type Logger, SiftError } from '@sift/kit';
import { service as healthService } from 'grpc-health-check';
import type { GatewayConfig } from './config.js';
import { answerClientError, errorKindOf, readJsonBody, sendError, sendJson } from './http.js';
import { ProtoJsonChecker } from './proto-json.js';
import { EmbeddingUpstream, httpEmbeddingMessage, toEmbedRequest, toOpenAiResponse } from './routes/embeddings.js';
import { JobUpstream } from './routes/job-upstream.js';
import { pruningHeatmap } from './routes/pruning-heatmap.js';

/** A running gateway. */
export interface Gateway {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** What a route records about its request, and the signal that aborts when the HTTP client goes away. */
interface RouteCall {
  batchSize: number;
  model?: { name: string; version: string };
  readonly signal: AbortSignal;
}

type Route = (req: IncomingMessage, res: ServerResponse, call: RouteCall) => Promise<void>;

/** Starts the HTTP JSON API in front of the services; every request is reported as a request metric. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const embedding = new EmbeddingUpstream(config.embeddingAddress, config.maxMessageBytes);
  const jobServices = {
    selection: config.selectionAddress
      ? new JobUpstream(
          selectionV1.SelectionServiceClient,
          selectionV1,
          config.selectionAddress,
          config.maxMessageBytes,
        )
      : undefined,
    pruning: config.pruningAddress
      ? new JobUpstream(pruningV1.PruningServiceClient, pruningV1, config.pruningAddress, config.maxMessageBytes)
      : undefined,
  };
  type JobService = keyof typeof jobServices;
  const need = <S extends JobService>(service: S): NonNullable<(typeof jobServices)[S]> => {
    const upstream = jobServices[service];
    if (!upstream) {
      throw new SiftError(
        'unavailable',
        `the ${service} service is not configured (SIFT_${service.toUpperCase()}_ADDRESS)`,
      );
    }
    return upstream as NonNullable<(typeof jobServices)[S]>;
  };
  const bus = config.natsUrl ? await Bus.connect(config.natsUrl, 'sift-gateway') : undefined;
  const metrics = bus ? new RequestMetricsPublisher(bus, logger) : undefined;
  const report: (call: FinishedCall) => void = metrics ? metrics.record : () => {};

  const timeout = config.upstreamTimeoutMs;
  const bodies = new ProtoJsonChecker();
  /** GET /v1/{service}/jobs: the query string, checked as the service's ListJobsRequest, lists its jobs. */
  const listRoute =
    (service: JobService): Route =>
    async (req, res) => {
      const upstream = need(service);
      const query = queryOf(req);
      try {
        bodies.check(`${upstream.protoPackage}.ListJobsRequest`, query);
      } catch (err) {
        throw err instanceof SiftError ? new SiftError(err.kind, `query parameters: ${err.message}`) : err;
      }
      sendJson(res, 200, await upstream.list(query, timeout));
    };

  /**
   * Routes with a job id in the path, for both job services: `GET /v1/{selection|pruning}/jobs/{id}`,
   * `GET .../events` (Server-Sent Events), `POST .../cancel`, and `GET /v1/pruning/jobs/{id}/heatmap.png`.
   */
  const jobRoute = (method: string, path: string): Route | undefined => {
    // Any segment is an id here: the service tells one that is not well-formed (400) from an unknown one (404).
    const m = path.match(/^\/v1\/(selection|pruning)\/jobs\/([^/]+)(\/events|\/cancel|\/heatmap\.png)?$/);
    if (!m) return undefined;
    const [, matched = '', id = '', tail = ''] = m;
    const service = matched as JobService;
    if (method === 'GET' && tail === '')
      return async (_req, res) => sendJson(res, 200, await need(service).get(id, timeout));
    if (method === 'POST' && tail === '/cancel') {
      return async (_req, res) => sendJson(res, 200, await need(service).cancel(id, timeout));
    }
    if (method === 'GET' && tail === '/events') {
      return (_req, res) =>
        new Promise<void>((resolve, reject) => need(service).watch(id, res, (err) => (err ? reject(err) : resolve())));
    }
    if (method === 'GET' && tail === '/heatmap.png' && service === 'pruning') {
      return async (_req, res) => {
        const png = await pruningHeatmap(need('pruning'), id, timeout);
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
        res.end(png);
      };
    }
    return undefined;
  };

  /**
   * POST of a job submission: the JSON body, checked against the request type (`<Method>Request`, as buf
   * lint requires), goes to the service's `method`; the job id comes back with 202 Accepted.
   */
  const submitRoute =
    <Req, Res>(
      service: JobService,
      method: string,
      request: { fromJSON(object: unknown): Req },
      response: { toJSON(message: Res): unknown },
    ): Route =>
    async (req, res, call) => {
      const body = await readJsonBody(req, config.maxBodyBytes);
      const upstream = need(service);
      bodies.check(`${upstream.protoPackage}.${method[0]?.toUpperCase()}${method.slice(1)}Request`, body);
      // A client that leaves cancels the submit: the service then creates no job.
      const answer = await upstream.submit<Res>(method, request.fromJSON(body), timeout, call.signal);
      call.batchSize = 1;
      sendJson(res, 202, response.toJSON(answer));
    };

  const routes: Record<string, Route> = {
    'GET /v1/selection/jobs': listRoute('selection'),
    'GET /v1/pruning/jobs': listRoute('pruning'),
    'POST /v1/pruning/analyses': submitRoute(
      'pruning',
      'submitAnalysis',
      pruningV1.SubmitAnalysisRequest,
      pruningV1.SubmitAnalysisResponse,
    ),
    'POST /v1/pruning/prunings': submitRoute(
      'pruning',
      'submitPruning',
      pruningV1.SubmitPruningRequest,
      pruningV1.SubmitPruningResponse,
    ),
    'POST /v1/selection/jobs': submitRoute(
      'selection',
      'submitJob',
      selectionV1.SubmitJobRequest,
      selectionV1.SubmitJobResponse,
    ),
    'POST /v1/embeddings': async (req, res, call) => {
      const { request, base64 } = toEmbedRequest(await readJsonBody(req, config.maxBodyBytes));
      call.batchSize = request.inputs.length;
      const response = await embedding.embed(request, config.upstreamTimeoutMs, call.signal).catch((err: unknown) => {
        const { kind, message } = errorKindOf(err, { service: 'embedding', timeoutMs: timeout });
        throw new SiftError(kind, httpEmbeddingMessage(message));
      });
      if (response.model) call.model = response.model;
      sendJson(res, 200, toOpenAiResponse(response, base64));
    },
    // Every configured upstream is asked; one that is not SERVING makes the gateway "degraded" (503).
    'GET /healthz': async (_req, res) => {
      const upstreams = Object.entries({
        embedding: config.embeddingAddress,
        selection: config.selectionAddress,
        pruning: config.pruningAddress,
      }).filter(([, address]) => address);
      const states = await Promise.all(upstreams.map(([, address]) => checkHealth(address, 2000)));
      const ok = states.every((s) => s === 'SERVING');
      sendJson(res, ok ? 200 : 503, {
        status: ok ? 'ok' : 'degraded',
        services: Object.fromEntries(upstreams.map(([name], i) => [name, states[i]])),
      });
    },
  };

  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const name = `${req.method} ${path?.replace(/\/jobs\/[^/]+/, '/jobs/{id}')}`;
    const route = routes[name] ?? jobRoute(req.method ?? '', path ?? '');
    const disconnected = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) disconnected.abort(new SiftError('cancelled', 'the HTTP client went away'));
    });
    const call: RouteCall = { batchSize: 0, signal: disconnected.signal };
    const finish = (status: string) => {
      report({
        service: 'gateway',
        // Paths without a route are not listed one by one: the `requests` table would grow a method per typo.
        method: route ? name : 'no route',
        status,
        latencyMs: performance.now() - started,
        batchSize: call.batchSize,
        ...(call.model ? { model: call.model } : {}),
        httpStatus: res.statusCode,
      });
    };
    if (!route) {
      // A known path asked with another method is 405 with the methods it takes, not an unknown route.
      const allowed = ['GET', 'POST', 'DELETE'].filter(
        (m) => routes[name.replace(/^\S+/, m)] ?? jobRoute(m, path ?? ''),
      );
      if (allowed.length > 0) {
        res.setHeader('allow', allowed.join(', '));
        sendError(res, 'invalid_argument', `${name}: this path takes ${allowed.join(', ')}`, 405);
        finish('INVALID_ARGUMENT');
        return;
      }
      sendError(res, 'not_found', `no route ${name}; see the README for the API`);
      finish('NOT_FOUND');
      return;
    }
    route(req, res, call).then(
      // A handled answer can still be a refusal (/healthz is 503 while an upstream is down).
      () => finish(res.statusCode >= 500 ? 'UNAVAILABLE' : 'OK'),
      (err: unknown) => {
        const mapped = errorKindOf(err, { service: upstreamOf(path ?? ''), timeoutMs: timeout });
        // Whatever broke after the client went away (a body cut short, a write to a closed socket) is its
        // leaving, not a gateway fault: CANCELLED in the metrics, and no error line with a stack.
        const gone = mapped.kind === 'cancelled' || disconnected.signal.aborted;
        const { kind, message } = gone ? { kind: 'cancelled' as const, message: mapped.message } : mapped;
        if (gone) logger.info('client went away', { route: name, reason: mapped.message });
        else if (kind === 'internal') logger.error('request failed', { route: name, err });
        // A stream (Server-Sent Events) that failed after its 200 went out can only be cut short.
        if (res.headersSent) res.end();
        else sendError(res, kind, message);
        finish(grpcStatusName(grpcStatusOf(kind)));
      },
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket, maxHeaderSize));
  // A client that sends its headers or body at a trickle does not hold a connection for Node's 5 minutes.
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const port = (server.address() as AddressInfo).port;
  logger.info('gateway listening', { port });
  return {
    port,
    url: `http://${config.host}:${port}`,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      embedding.close();
      for (const upstream of Object.values(jobServices)) upstream?.close();
      await metrics?.close();
      await bus?.close();
    },
  };
}

/** The service behind a path, for messages about calls to it. */
function upstreamOf(path: string): string {
  const m = /^\/v1\/(selection|pruning)\//.exec(path);
  return m?.[1] ?? 'embedding';
}

const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');

/** Asks a service's grpc.health.v1 endpoint; "UNREACHABLE" when it does not answer in time. */
async function checkHealth(address: string, timeoutMs: number): Promise<string> {
  const client = new HealthClient(address, credentials.createInsecure()) as unknown as {
    check(
      req: { service: string },
      opts: { deadline: Date },
      cb: (err: unknown, res?: { status: string }) => void,
    ): void;
    close(): void;
  };
  try {
    return await new Promise<string>((resolve) =>
      client.check({ service: '' }, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
        resolve(err ? 'UNREACHABLE' : String(res?.status ?? 'UNKNOWN')),
      ),
    );
  } finally {
    client.close();
  }
}

/**
 * A request's query string as a protobuf-JSON object: `page_size=10&state=JOB_STATE_RUNNING&state=...`
 * -> `{ page_size: "10", states: [...] }`. Repeated keys become arrays; `state` is the singular of the
 * contract's `states`.
 */
function queryOf(req: IncomingMessage): Record<string, unknown> {
  const params = new URL(req.url ?? '/', 'http://gateway').searchParams;
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    if (key === 'state' || key === 'states') out.states = values;
    else out[key] = values.length === 1 ? values[0] : values;
  }
  return out;
}
