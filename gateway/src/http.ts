import type { IncomingMessage, ServerResponse } from 'node:http';
import { asSiftError, type ErrorKind, httpStatusOf, kindOfGrpcStatus, SiftError } from '@sift/kit';

/** Reads a JSON body up to `limit` bytes; larger bodies are refused without being buffered whole. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw new SiftError('payload_too_large', `request body of ${declared} bytes exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SiftError('payload_too_large', `request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new SiftError('invalid_argument', 'request body is not valid JSON');
  }
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The error kind of anything thrown while serving: SiftError as is, gRPC errors by their status code. */
export function errorKindOf(err: unknown): { kind: ErrorKind; message: string } {
  if (err instanceof SiftError) return { kind: err.kind, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && 'details' in (err as object)) {
    return { kind: kindOfGrpcStatus(code), message: String((err as { details: unknown }).details) };
  }
  const e = asSiftError(err);
  return { kind: e.kind, message: e.message };
}

/** Sends an error in the OpenAI-compatible envelope `{ error: { message, type, code } }`. */
export function sendError(res: ServerResponse, kind: ErrorKind, message: string): void {
  sendJson(res, httpStatusOf(kind), { error: { message, type: kind, code: kind } });
}
