import { commonV1, embeddingV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { type UpstreamChannel, unaryCall, upstreamChannel } from './upstream.js';

/** The OpenAI-compatible request body of POST /v1/embeddings. */
interface OpenAiEmbeddingRequest {
  input: string | string[];
  model?: string;
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
}

/** Checks the body's shape and turns it into an EmbedRequest; messages name the offending field. */
export function toEmbedRequest(body: unknown): { request: embeddingV1.EmbedRequest; base64: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SiftError('invalid_argument', 'body must be a JSON object with an "input" field');
  }
  // A misspelt field ("dimension") would otherwise return full vectors without a word.
  const unknown = Object.keys(body).filter((k) => !requestFields.includes(k));
  if (unknown.length > 0) {
    throw new SiftError(
      'invalid_argument',
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the body takes ${requestFields.join(', ')}`,
    );
  }
  const b = body as Partial<OpenAiEmbeddingRequest>;
  const inputs = typeof b.input === 'string' ? [b.input] : b.input;
  if (!Array.isArray(inputs) || inputs.some((s) => typeof s !== 'string')) {
    throw new SiftError('invalid_argument', 'input must be a string or an array of strings');
  }
  if (b.model !== undefined && typeof b.model !== 'string') {
    throw new SiftError('invalid_argument', 'model must be a string such as "glove-sif-100d" or "glove-sif-100d@1"');
  }
  const d = b.dimensions;
  if (d !== undefined && (!Number.isInteger(d) || (d as number) <= 0 || (d as number) > maxUint32)) {
    throw new SiftError('invalid_argument', "dimensions must be a positive integer (at most the model's dimensions)");
  }
  if (b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
    throw new SiftError('invalid_argument', 'encoding_format must be "float" or "base64"');
  }
  return {
    request: {
      model: parseModelRef(b.model),
      inputs: inputs as string[],
      // OpenAI's embeddings are unit length; clients compare them with dot products.
      normalize: true,
      dimensions: b.dimensions ?? 0,
      rejectLongInputs: false,
    },
    base64: b.encoding_format === 'base64',
  };
}

const maxUint32 = 2 ** 32 - 1;
const requestFields = ['input', 'model', 'encoding_format', 'dimensions', 'user'];

/** `"name"` or `"name@version"`; omitted selects the service's default model. */
function parseModelRef(model: string | undefined): { name: string; version: string } {
  if (model === undefined) return { name: '', version: '' };
  const m = /^([^@\s]+)(?:@([^@\s]+))?$/.exec(model);
  if (!m) {
    throw new SiftError(
      'invalid_argument',
      `model must be "name" or "name@version" (e.g. "glove-sif-100d" or "glove-sif-100d@1"), got ${JSON.stringify(model)}`,
    );
  }
  return { name: m[1] ?? '', version: m[2] ?? '' };
}

/**
 * The embedding service's messages name its gRPC fields; over HTTP the list of texts is `input`. Only
 * the field name changes: the rest of the message (the index, the limit) stays as the service wrote it.
 */
export function httpEmbeddingMessage(message: string): string {
  return message.replace(/\binputs(?=\[|:| \()/g, 'input');
}

/** The OpenAI-compatible response body for an EmbedResponse. */
export function toOpenAiResponse(res: embeddingV1.EmbedResponse, base64: boolean): unknown {
  const t = res.embeddings;
  if (!t || t.dtype !== commonV1.DataType.DATA_TYPE_FLOAT32 || t.dims.length !== 2) {
    throw new Error('embedding service returned a malformed tensor');
  }
  const [n = 0, d = 0] = t.dims;
  const bytes = Buffer.from(t.data);
  const vectors = new Float32Array(bytes.buffer, bytes.byteOffset, n * d);
  const tokens = res.tokenCounts.reduce((a, b) => a + b, 0);
  return {
    object: 'list',
    data: Array.from({ length: n }, (_, i) => {
      const row = vectors.subarray(i * d, (i + 1) * d);
      return {
        object: 'embedding',
        index: i,
        embedding: base64
          ? Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64')
          : Array.from(row),
      };
    }),
    model: `${res.model?.name}@${res.model?.version}`,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
    sift: {
      truncated: res.truncated,
      // 0 where the model could read nothing of an input: its vector is all zeros.
      fed_tokens: res.fedTokens,
      max_input_tokens: res.maxInputTokens,
      timing: res.timing,
    },
  };
}

/** A promise-returning client of the embedding service. */
export class EmbeddingUpstream {
  readonly channel: UpstreamChannel<embeddingV1.EmbeddingServiceClient>;

  constructor(address: string, maxMessageBytes: number) {
    this.channel = upstreamChannel(embeddingV1.EmbeddingServiceClient, address, maxMessageBytes);
  }

  /**
   * Embed with a deadline. When `signal` aborts (the HTTP client went away) the call is cancelled, so
   * the service drops its queued inputs instead of computing vectors nobody will read.
   */
  embed(req: embeddingV1.EmbedRequest, timeoutMs: number, signal: AbortSignal): Promise<embeddingV1.EmbedResponse> {
    return unaryCall(this.channel, 'embed', req, timeoutMs, signal);
  }

  close(): void {
    this.channel.close();
  }
}
