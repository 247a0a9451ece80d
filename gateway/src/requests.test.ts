import { status } from '@grpc/grpc-js';
import { SiftError } from '@sift/kit';
import { describe, expect, it } from 'vitest';
import { errorKindOf } from './http.js';
import { httpEmbeddingMessage, toEmbedRequest } from './routes/embeddings.js';

/** A gRPC client error as grpc-js hands it over: a code and the details text. */
const grpcError = (code: number, details: string) => Object.assign(new Error(details), { code, details });

const invalid = (body: unknown) => {
  try {
    toEmbedRequest(body);
  } catch (err) {
    expect(err).toBeInstanceOf(SiftError);
    return (err as SiftError).message;
  }
  throw new Error('expected the body to be refused');
};

describe('POST /v1/embeddings bodies', () => {
  it('reads "name" and "name@version" and refuses other model forms, naming the field', () => {
    expect(toEmbedRequest({ input: 'x', model: 'glove-sif-100d@1' }).request.model).toEqual({
      name: 'glove-sif-100d',
      version: '1',
    });
    expect(toEmbedRequest({ input: 'x' }).request.model).toEqual({ name: '', version: '' });
    for (const model of ['', '@1', 'glove-sif-100d@', 'a@b@c', 'two words']) {
      expect(invalid({ input: 'x', model })).toMatch(/^model must be "name" or "name@version"/);
    }
  });

  it('refuses dimensions that are not a positive 32-bit integer before anything is sent upstream', () => {
    for (const dimensions of [0, -1, 1.5, '50', 2 ** 32, 2 ** 53]) {
      expect(invalid({ input: 'x', dimensions })).toMatch(/^dimensions must be a positive integer/);
    }
    expect(toEmbedRequest({ input: 'x', dimensions: 64 }).request.dimensions).toBe(64);
  });
});

describe('upstream errors as HTTP errors', () => {
  const upstream = { service: 'embedding', timeoutMs: 300 };

  it('names the HTTP field `input` where the service names its gRPC field `inputs`', () => {
    expect(httpEmbeddingMessage('inputs[3] is empty')).toBe('input[3] is empty');
    expect(httpEmbeddingMessage('inputs: at least one input is required')).toBe(
      'input: at least one input is required',
    );
    expect(httpEmbeddingMessage('inputs: 2049 inputs exceed the limit of 2048 per call')).toBe(
      'input: 2049 inputs exceed the limit of 2048 per call',
    );
  });

  it('rewords deadline and connection failures without grpc-js internals', () => {
    const late = errorKindOf(
      grpcError(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 0.302s,remote_addr=127.0.0.1:37987'),
      upstream,
    );
    expect(late).toEqual({
      kind: 'deadline_exceeded',
      message: 'the embedding service did not answer within 300 ms; retry later or send less per request',
    });
    const down = errorKindOf(
      grpcError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:37987'),
      upstream,
    );
    expect(down).toEqual({ kind: 'unavailable', message: 'the embedding service is not reachable; retry later' });
    // A service's own UNAVAILABLE message is the caller's business and passes unchanged.
    expect(errorKindOf(grpcError(status.UNAVAILABLE, 'embedding service: worker is shutting down'), upstream)).toEqual({
      kind: 'unavailable',
      message: 'embedding service: worker is shutting down',
    });
  });

  it('turns a request the client cannot encode (a body value out of a field range) into a 400', () => {
    const e = errorKindOf(grpcError(status.INTERNAL, 'Request message serialization failure: invalid uint32: -1'));
    expect(e).toEqual({
      kind: 'invalid_argument',
      message: 'a field of the request is out of range (invalid uint32: -1)',
    });
  });
});
