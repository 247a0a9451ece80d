/**
 * The floor under any unary gRPC service in Node: a bare grpc-js server whose `Embed` answers at once with
 * a canned response of the right size (zeros, `SIFT_FLOOR_DIMS` per input), no validation, model, batcher,
 * metrics or logging. `bench/embedding-throughput.ts --grpc-floor` measures its CPU per call next to the
 * embedding service's. Prints the launcher's `{"ready": true, "port": N}` line.
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { commonV1, embeddingV1 } from '@sift/contracts';

const { SIFT_FLOOR_DIMS } = process.env;
const dims = Number(SIFT_FLOOR_DIMS) || 384;
const server = new Server();
server.addService(embeddingV1.EmbeddingServiceService, {
  embed(
    call: ServerUnaryCall<embeddingV1.EmbedRequest, embeddingV1.EmbedResponse>,
    done: sendUnaryData<embeddingV1.EmbedResponse>,
  ) {
    const n = call.request.inputs.length;
    done(
      null,
      embeddingV1.EmbedResponse.fromPartial({
        embeddings: { dims: [n, dims], dtype: commonV1.DataType.DATA_TYPE_FLOAT32, data: Buffer.alloc(n * dims * 4) },
        model: { name: 'floor', version: '1' },
        tokenCounts: new Array(n).fill(16),
        fedTokens: new Array(n).fill(16),
        truncated: new Array(n).fill(false),
        timing: { queueMs: 0, computeMs: 0 },
      }),
    );
  },
} as never);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
