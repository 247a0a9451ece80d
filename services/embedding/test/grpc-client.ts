import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { embeddingV1 } from '@sift/contracts';

/** Promise-returning calls on a real EmbeddingService client (test helper, not a mock). */
export function embeddingClient(address: string, maxMessageBytes = 64 * 1024 * 1024) {
  const client = new embeddingV1.EmbeddingServiceClient(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
  });
  return {
    client,
    embed(req: Partial<embeddingV1.EmbedRequest>, timeoutMs = 30_000): Promise<embeddingV1.EmbedResponse> {
      const full = embeddingV1.EmbedRequest.fromPartial(req);
      return new Promise((resolve, reject) =>
        client.embed(full, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
    },
    listModels(): Promise<embeddingV1.ListModelsResponse> {
      return new Promise((resolve, reject) => client.listModels({}, (err, res) => (err ? reject(err) : resolve(res))));
    },
    close: () => client.close(),
  };
}

/** The rows of a float32 embeddings tensor. */
export function rowsOf(res: embeddingV1.EmbedResponse): Float32Array[] {
  const t = res.embeddings;
  if (!t) throw new Error('no embeddings');
  const [n = 0, d = 0] = t.dims;
  const bytes = Buffer.from(t.data);
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, n * d);
  return Array.from({ length: n }, (_, i) => all.slice(i * d, (i + 1) * d));
}

/** The gRPC error a promise rejected with. */
export async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}
