import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { SiftError } from '@sift/kit';
import { describe, expect, it } from 'vitest';
import { errorKindOf, readJsonBody } from './http.js';
import { ProtoJsonChecker } from './proto-json.js';
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

describe('a client that goes away mid-body', () => {
  /** A request body as Node's server hands it over: a stream with headers, complete once fully read. */
  const partialBody = () => {
    const req = Object.assign(new PassThrough(), { headers: { 'content-length': '1000' }, complete: false });
    req.write('{"input": ["only the start');
    return req;
  };

  it('is CANCELLED, not an internal error, whether Node reports an aborted request or only closes it', async () => {
    const aborted = partialBody();
    const reading = readJsonBody(aborted as unknown as IncomingMessage, 8192);
    aborted.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await expect(reading).rejects.toMatchObject({
      kind: 'cancelled',
      message: 'the HTTP client went away before sending the whole body',
    });
    const closed = partialBody();
    const readingClosed = readJsonBody(closed as unknown as IncomingMessage, 8192);
    closed.destroy();
    await expect(readingClosed).rejects.toMatchObject({ kind: 'cancelled' });
  });

  it("maps Node's errors for a closed connection to cancelled", () => {
    for (const err of [
      Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
      Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }),
    ]) {
      expect(errorKindOf(err)).toEqual({ kind: 'cancelled', message: 'the HTTP client went away' });
    }
    expect(errorKindOf(new Error('something broke')).kind).toBe('internal');
  });
});

describe('job bodies checked against their protobuf type', () => {
  const checker = new ProtoJsonChecker();
  const refusal = (typeName: string, body: unknown) => {
    try {
      checker.check(typeName, body);
    } catch (err) {
      expect(err).toMatchObject({ kind: 'invalid_argument' });
      return (err as Error).message;
    }
    throw new Error('expected the body to be refused');
  };
  const job = (step: Record<string, unknown>) => ({
    dataset: { paths: ['corpus.jsonl'], textField: 'text' },
    steps: [{ name: 'embed', embed: {} }, step],
    output: { path: 'out/' },
  });

  it('accepts camelCase and snake_case names, enum names and numbers, and 64-bit integers as strings', () => {
    checker.check(
      'sift.selection.v1.SubmitJobRequest',
      job({
        name: 'dedup',
        sem_dedup: { eps: 0.05, reportEps: [0.01, '0.1'], keep: 'SEM_DEDUP_KEEP_RANDOM', seed: '9007199254740991' },
      }),
    );
    checker.check('sift.selection.v1.SubmitJobRequest', job({ name: 'dedup', semDedup: { keep: 2, blockRows: null } }));
  });

  it('names a misspelt field with its path and the fields it could have been', () => {
    expect(refusal('sift.selection.v1.SubmitJobRequest', job({ name: 'dedup', semDedup: { comparision: 'x' } }))).toBe(
      'steps[1].semDedup.comparision is not a field of SemDedupStep (its fields: eps, reportEps, keep, comparison, seed, blockRows)',
    );
    expect(refusal('sift.pruning.v1.SubmitAnalysisRequest', { maxBlocksize: 1 })).toMatch(
      /^maxBlocksize is not a field of SubmitAnalysisRequest/,
    );
  });

  it('refuses a 64-bit integer beyond 2^53 - 1 naming its path and the largest value, not the encoding', () => {
    const largest = '(2^53 - 1, the largest this API takes)';
    // Decimal strings are compared exactly: 2^53 + 1 is not rounded down to an accepted value.
    for (const seed of ['9007199254740993', '18446744073709551615', 2 ** 53, 1e21]) {
      const shownSeed = typeof seed === 'string' ? `"${seed}"` : String(seed);
      expect(refusal('sift.selection.v1.SubmitJobRequest', job({ name: 'k', kmeans: { seed } }))).toBe(
        `steps[1].kmeans.seed must be an integer from 0 to 9007199254740991 ${largest}; got ${shownSeed}`,
      );
    }
    const texts = (limit: unknown) => ({
      spec: { calibration: { texts: { dataset: { path: '/c.jsonl', textField: 'text', limit } } } },
    });
    expect(refusal('sift.pruning.v1.SubmitAnalysisRequest', texts('9007199254740993'))).toBe(
      `spec.calibration.texts.dataset.limit must be an integer from 0 to 9007199254740991 ${largest}; got "9007199254740993"`,
    );
    checker.check('sift.pruning.v1.SubmitAnalysisRequest', texts('9007199254740991'));
    checker.check('sift.pruning.v1.SubmitAnalysisRequest', texts(9007199254740991));
    expect(refusal('sift.pruning.v1.SubmitAnalysisRequest', texts(-1))).toMatch(/limit must be an integer from 0/);
  });

  it('says a number JSON cannot hold (1e400 reads as Infinity) is beyond the float64 range, not null', () => {
    const body = JSON.parse(
      '{"dataset": {"paths": ["c.jsonl"], "textField": "t"}, "steps": [{"kmeans": {"k": 1e400}}]}',
    );
    expect(refusal('sift.selection.v1.SubmitJobRequest', body)).toBe(
      'steps[0].kmeans.k must be an integer from 0 to 4294967295; got a number beyond the float64 range (about 1.8e308)',
    );
    const eps = JSON.parse('{"steps": [{"semDedup": {"eps": -1e400}}]}');
    expect(refusal('sift.selection.v1.SubmitJobRequest', eps)).toBe(
      'steps[0].semDedup.eps must be a number; got a number beyond the float64 range (about 1.8e308)',
    );
  });

  it('refuses unknown enum names, out-of-range integers, wrong types and two members of a oneof', () => {
    expect(refusal('sift.selection.v1.SubmitJobRequest', job({ name: 'd', semDedup: { keep: 'HARDEST' } }))).toMatch(
      /^steps\[1\]\.semDedup\.keep must be one of SEM_DEDUP_KEEP_UNSPECIFIED, .*; got "HARDEST"$/,
    );
    expect(refusal('sift.selection.v1.SubmitJobRequest', job({ name: 'k', kmeans: { k: -1 } }))).toBe(
      'steps[1].kmeans.k must be an integer from 0 to 4294967295; got -1',
    );
    expect(refusal('sift.selection.v1.SubmitJobRequest', job({ name: 'k', kmeans: { k: 2.5 } }))).toMatch(
      /^steps\[1\]\.kmeans\.k must be/,
    );
    expect(refusal('sift.selection.v1.SubmitJobRequest', { dataset: { paths: 'corpus.jsonl' } })).toBe(
      'dataset.paths must be a list',
    );
    expect(refusal('sift.selection.v1.SubmitJobRequest', job({ name: 'x', embed: {}, kmeans: { k: 3 } }))).toBe(
      'steps[1] sets embed and kmeans; only one of exactDedup, minhashDedup, embed, kmeans, semDedup, sslPrototypes, d4, densityPruning, scip, longFilePruning, textQuality may be set',
    );
    expect(refusal('sift.selection.v1.SubmitJobRequest', [])).toBe('the body must be a SubmitJobRequest object');
  });
});
