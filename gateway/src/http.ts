import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { asSiftError, clipEchoes, type ErrorKind, httpStatusOf, kindOfGrpcStatus, SiftError } from '@sift/kit';

/** Strict: a body that is not UTF-8 is refused rather than read with U+FFFD in place of its bytes. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a JSON body up to `limit` bytes; larger bodies are refused as soon as they pass the limit, without
 * being buffered whole. The rest of a refused body is still read and dropped (Node's server does the same
 * for a body refused by its declared length), so the client reads the 413 instead of a reset connection and
 * can send its next request on the same one.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw new SiftError('payload_too_large', `request body of ${declared} bytes exceeds ${limit} bytes`);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      refused = true;
      chunks.length = 0;
      reject(new SiftError('payload_too_large', `request body exceeds ${limit} bytes`));
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // A client that goes away mid-body is not a failure of the gateway: Node reports it as an `aborted`
    // error (ECONNRESET), or only closes the request. (Settling twice is a no-op, so the close after a
    // complete body changes nothing.)
    const gone = () => reject(new SiftError('cancelled', 'the HTTP client went away before sending the whole body'));
    req.on('error', gone);
    req.on('close', () => {
      if (!req.complete) gone();
    });
  });
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new SiftError(
      'invalid_argument',
      'request body is not valid UTF-8; JSON must be sent as UTF-8 (RFC 8259): re-encode the text from its real encoding',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text, refuseLoneSurrogates);
  } catch (err) {
    if (err instanceof SiftError) throw err;
    throw new SiftError('invalid_argument', 'request body is not valid JSON');
  }
  return value;
}

/** A UTF-16 surrogate without its pair: JSON can spell one (`"\ud800"`), but it is not Unicode text. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * JSON.parse reviver that refuses a string holding a lone surrogate escape: it would reach the services as
 * U+FFFD (protobuf strings are UTF-8, and a lone surrogate has no UTF-8 form) without a word to the caller.
 */
function refuseLoneSurrogates(key: string, value: unknown): unknown {
  const badKey = LONE_SURROGATE.test(key);
  if (badKey || (typeof value === 'string' && LONE_SURROGATE.test(value))) {
    const where = badKey ? 'a member name' : key === '' ? 'the body' : `the value of "${clipEchoes(key)}"`;
    throw new SiftError(
      'invalid_argument',
      `request body: ${where} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair), which is not Unicode text; escape characters outside the BMP as surrogate pairs, or send them as UTF-8`,
    );
  }
  return value;
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Which service a route calls, and how long it waits for it: for messages about the call itself. */
export interface UpstreamCall {
  service: string;
  timeoutMs: number;
}

/**
 * The error kind of anything thrown while serving: SiftError as is, gRPC errors by their status code.
 * Failures of the call itself (no connection, deadline passed, a field the request cannot encode) are
 * reworded: grpc-js's own text carries addresses and load-balancer states that mean nothing to an HTTP
 * client.
 */
export function errorKindOf(err: unknown, upstream?: UpstreamCall): { kind: ErrorKind; message: string } {
  if (err instanceof SiftError) return { kind: err.kind, message: err.message };
  if (isClientGone(err)) return { kind: 'cancelled', message: 'the HTTP client went away' };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && 'details' in (err as object)) {
    const kind = kindOfGrpcStatus(code);
    const details = String((err as { details: unknown }).details);
    const service = upstream?.service ?? 'upstream';
    if (kind === 'deadline_exceeded') {
      const within = upstream ? ` within ${upstream.timeoutMs} ms` : '';
      return { kind, message: `the ${service} service did not answer${within}; retry later or send less per request` };
    }
    if (
      kind === 'unavailable' &&
      /No connection established|ECONNREFUSED|Connection dropped|remote_addr/.test(details)
    ) {
      return { kind, message: `the ${service} service is not reachable; retry later` };
    }
    if (kind === 'internal' && details.startsWith('Request message serialization failure')) {
      // The client could not encode what the body asked for, e.g. an integer beyond a uint32 field.
      return {
        kind: 'invalid_argument',
        message: `a field of the request is out of range (${details.replace(/^Request message serialization failure:?\s*/, '')})`,
      };
    }
    return { kind, message: details };
  }
  const e = asSiftError(err);
  return { kind: e.kind, message: e.message };
}

/** Node's errors for a connection the client closed: a reset socket, an aborted request, a stream cut short. */
function isClientGone(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || err.message === 'aborted'
  );
}

/**
 * Sends an error in the OpenAI-compatible envelope `{ error: { message, type, code } }` (type and code: the
 * kind), with the kind's HTTP status unless `status` names a more precise one (405 for a method a path does
 * not take). Values the message repeats from the request are clipped to 200 characters.
 */
export function sendError(res: ServerResponse, kind: ErrorKind, message: string, status = httpStatusOf(kind)): void {
  // A full queue clears in a moment: say when to come back.
  if (kind === 'resource_exhausted' && !res.headersSent) res.setHeader('retry-after', '1');
  sendJson(res, status, errorBody(kind, message));
}

/** The error envelope of every refusal, also those written straight to the socket. */
export function errorBody(
  kind: ErrorKind,
  message: string,
): { error: { message: string; type: string; code: string } } {
  return { error: { message: clipEchoes(message), type: kind, code: kind } };
}

/**
 * Answers a request Node's HTTP parser refused before any route saw it, with the JSON error body every other
 * refusal has (Node's own answer is a bare status line): 431 for a request line and headers over
 * `maxHeaderBytes` (a very long URL), 408 for headers that did not arrive in time, 400 for anything that is
 * not HTTP/1.1. A connection the client already closed, or one whose response has begun, is only closed.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, maxHeaderBytes: number): void {
  const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, kind, message]: [number, ErrorKind, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'invalid_argument',
          `the request line and headers exceed ${maxHeaderBytes} bytes; send long parameters in a POST body`,
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'deadline_exceeded', 'the request did not arrive in time; send it again']
        : [400, 'invalid_argument', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`];
  const body = JSON.stringify(errorBody(kind, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
