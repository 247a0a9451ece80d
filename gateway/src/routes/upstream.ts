import type { ServerResponse } from 'node:http';
import {
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ClientReadableStream,
  connectivityState,
  credentials,
  Metadata,
  status,
} from '@grpc/grpc-js';

/**
 * Options of every upstream channel. grpc-js waits between reconnects 1 s growing 1.6x up to 120 s: a service
 * restarted after a minute away was refused (503) for another ~40 s while /healthz, which dials afresh, said
 * SERVING. Here a channel retries at most every 5 s, and {@link UpstreamChannel} replaces a channel caught in
 * that wait, so the next request dials again.
 */
export function upstreamChannelOptions(maxMessageBytes: number): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 5000,
    // Subchannels (connections and their backoff) are shared process-wide by address and options; a
    // replacement channel must not inherit its predecessor's wait.
    'grpc.use_local_subchannel_pool': 1,
  };
}

/**
 * The client of one upstream service. A call that found no connection leaves the channel in
 * TRANSIENT_FAILURE, waiting out a backoff before it dials again; the client is then replaced by a fresh one
 * that dials on the next call. So a restarted service is used by the first request after it is back (the
 * refused call was never sent: nothing is retried).
 */
export class UpstreamChannel<C extends Client> {
  private current: C;

  constructor(private readonly connect: () => C) {
    this.current = connect();
  }

  get client(): C {
    return this.current;
  }

  /** After `client` failed a call: a channel waiting to reconnect is swapped for a fresh one. */
  failed(client: C, err: unknown): void {
    if (client !== this.current || (err as { code?: unknown }).code !== status.UNAVAILABLE) return;
    if (client.getChannel().getConnectivityState(false) !== connectivityState.TRANSIENT_FAILURE) return;
    this.current = this.connect();
    client.close();
  }

  close(): void {
    this.current.close();
  }
}

/** A generated grpc-js client class. */
export type ClientClass<C extends Client> = new (
  address: string,
  credentials: ChannelCredentials,
  options?: ChannelOptions,
) => C;

/** The {@link UpstreamChannel} of the service at `address`, with {@link upstreamChannelOptions}. */
export function upstreamChannel<C extends Client>(
  client: ClientClass<C>,
  address: string,
  maxMessageBytes: number,
): UpstreamChannel<C> {
  return new UpstreamChannel(
    () => new client(address, credentials.createInsecure(), upstreamChannelOptions(maxMessageBytes)),
  );
}

/** A unary method of a generated grpc-js client, in its (request, metadata, options, callback) form. */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (err: unknown, response: Res) => void,
) => { cancel(): void };

/**
 * Calls a unary method of the upstream with a deadline `timeoutMs` from now; rejects with the gRPC error.
 * When `signal` aborts (the HTTP client went away) the call is cancelled, so the service stops work nobody
 * will read and, for a submit, creates no job.
 */
export function unaryCall<C extends Client, Req, Res>(
  upstream: UpstreamChannel<C>,
  method: string,
  request: Req,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Res> {
  const client = upstream.client;
  const fn = (client as unknown as Record<string, UnaryMethod<Req, Res>>)[method];
  if (!fn) throw new Error(`the client has no method ${method}`);
  return new Promise((resolve, reject) => {
    const call = fn.call(
      client,
      request,
      new Metadata(),
      { deadline: new Date(Date.now() + timeoutMs) },
      (err, res) => {
        signal?.removeEventListener('abort', cancel);
        if (err) {
          upstream.failed(client, err);
          reject(err);
        } else resolve(res);
      },
    );
    const cancel = () => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

/**
 * Relays a WatchJob server stream as Server-Sent Events: one `status` event per message (its status as
 * protobuf JSON), ending when the stream ends (the job is final) or the HTTP client goes away. An error
 * before the first message goes to `onEnd` so the route can answer with the mapped HTTP status; after it,
 * the event stream simply ends.
 */
export function relayStatusEvents<M extends { status?: S | undefined }, S>(
  call: ClientReadableStream<M>,
  statusToJson: (status: S) => unknown,
  res: ServerResponse,
  onEnd: (err?: unknown) => void,
): void {
  let started = false;
  let ended = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  };
  // grpc-js may emit 'end' after 'error' (a failed call ends its read side too): only the first counts, or
  // a NOT_FOUND would be answered as an empty 200 and then again as a 404 on headers already sent.
  const finish = (err?: unknown) => {
    if (ended) return;
    ended = true;
    if (err !== undefined && !started) return onEnd(err);
    start();
    res.end();
    onEnd();
  };
  call.on('data', (m: M) => {
    if (ended) return;
    start();
    res.write(`event: status\ndata: ${JSON.stringify(m.status === undefined ? {} : statusToJson(m.status))}\n\n`);
  });
  call.on('end', () => finish());
  call.on('error', (err) => finish(err));
  res.on('close', () => call.cancel());
}
