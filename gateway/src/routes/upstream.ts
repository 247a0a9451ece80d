import type { ServerResponse } from 'node:http';
import { type Client, type ClientReadableStream, Metadata } from '@grpc/grpc-js';

/** A unary method of a generated grpc-js client, in its (request, metadata, options, callback) form. */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (err: unknown, response: Res) => void,
) => void;

/** Calls a unary method of `client` with a deadline `timeoutMs` from now; rejects with the gRPC error. */
export function unaryCall<Req, Res>(client: Client, method: string, request: Req, timeoutMs: number): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryMethod<Req, Res>>)[method];
  if (!fn) throw new Error(`the client has no method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
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
