import { credentials, Metadata } from '@grpc/grpc-js';
import { commonV1, embeddingV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';

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
  const b = body as Partial<OpenAiEmbeddingRequest>;
  const inputs = typeof b.input === 'string' ? [b.input] : b.input;
  if (!Array.isArray(inputs) || inputs.some((s) => typeof s !== 'string')) {
    throw new SiftError('invalid_argument', 'input must be a string or an array of strings');
  }
  if (b.model !== undefined && typeof b.model !== 'string') {
    throw new SiftError('invalid_argument', 'model must be a string such as "glove-sif-100d" or "glove-sif-100d@1"');
  }
  if (b.dimensions !== undefined && (!Number.isInteger(b.dimensions) || (b.dimensions as number) <= 0)) {
    throw new SiftError('invalid_argument', 'dimensions must be a positive integer');
  }
  if (b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
    throw new SiftError('invalid_argument', 'encoding_format must be "float" or "base64"');
  }
  const [name = '', version = ''] = (b.model ?? '').split('@');
  return {
    request: {
      model: { name, version },
      inputs: inputs as string[],
      // OpenAI's embeddings are unit length; clients compare them with dot products.
      normalize: true,
      dimensions: b.dimensions ?? 0,
      rejectLongInputs: false,
    },
    base64: b.encoding_format === 'base64',
  };
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
    sift: { truncated: res.truncated, max_input_tokens: res.maxInputTokens, timing: res.timing },
  };
}

/** A promise-returning client of the embedding service. */
export class EmbeddingUpstream {
  readonly client: embeddingV1.EmbeddingServiceClient;

  constructor(address: string, maxMessageBytes: number) {
    this.client = new embeddingV1.EmbeddingServiceClient(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    });
  }

  embed(req: embeddingV1.EmbedRequest, timeoutMs: number): Promise<embeddingV1.EmbedResponse> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + timeoutMs);
      this.client.embed(req, new Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.client.close();
  }
}
