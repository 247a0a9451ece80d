import { type ClientDuplexStream, credentials, Metadata } from '@grpc/grpc-js';
import { embeddingV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import type { TextEmbedder } from '../ports.js';

/**
 * Texts are cut to this many characters before they are sent: every encoder reads far fewer tokens (the
 * default models 128-512), the service refuses inputs over its character limit (200,000 by default), and
 * one long record must not fail a whole corpus.
 */
export const maxCharsSent = 100_000;

/**
 * Embeds a corpus through the embedding service's bidirectional EmbedStream: chunks go out with a bounded
 * number in flight (so a million texts never sit in one message or in one queue), answers come back in any
 * order and are placed by chunk id. A chunk holds at most `batchSize` texts and at most a quarter of the
 * largest message (so long texts cannot push it over the limit). Vectors are L2-normalised by the service.
 */
export class StreamingEmbedder implements TextEmbedder {
  private readonly client: embeddingV1.EmbeddingServiceClient;

  constructor(
    address: string,
    private readonly maxMessageBytes = 64 * 1024 * 1024,
    private readonly chunksInFlight = 4,
  ) {
    this.client = new embeddingV1.EmbeddingServiceClient(address, credentials.createInsecure(), {
      'grpc.max_send_message_length': maxMessageBytes,
      'grpc.max_receive_message_length': maxMessageBytes,
    });
  }

  async checkModel(name: string, version: string, dimensions: number): Promise<void> {
    const listed = await new Promise<embeddingV1.ListModelsResponse | undefined>((resolve) =>
      this.client.listModels({}, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
        resolve(err ? undefined : res),
      ),
    );
    if (!listed) return;
    const wanted = name || listed.defaultModel;
    const candidates = listed.models.filter((m) => m.model?.name === wanted);
    const found = candidates.find((m) => !version || m.model?.version === version);
    if (!found) {
      const have = [...new Set(listed.models.map((m) => `${m.model?.name}@${m.model?.version}`))].join(', ');
      throw new SiftError(
        'not_found',
        `the embedding service has no model ${wanted}${version ? `@${version}` : ''}; it serves ${have}`,
      );
    }
    if (dimensions > found.dimensions) {
      throw new SiftError('invalid_argument', `dimensions ${dimensions} is more than ${wanted}'s ${found.dimensions}`);
    }
  }

  async embed(
    texts: readonly string[],
    opts: { model: string; version: string; dimensions: number; batchSize: number },
    onProgress: (done: number) => void,
    signal: AbortSignal,
  ): ReturnType<TextEmbedder['embed']> {
    if (texts.length === 0) throw new SiftError('invalid_argument', 'nothing to embed');
    const call: ClientDuplexStream<embeddingV1.EmbedStreamRequest, embeddingV1.EmbedStreamResponse> =
      this.client.embedStream();
    const abort = () => call.cancel();
    signal.addEventListener('abort', abort, { once: true });
    const starts = chunkStarts(texts, opts.batchSize, Math.floor(this.maxMessageBytes / 4));
    const chunks = starts.length - 1;
    let vectors: Float32Array | undefined;
    let dims = 0;
    let model = { name: opts.model, version: opts.version };
    let done = 0;
    let sent = 0;
    let answered = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const sendMore = () => {
          while (sent < chunks && sent - answered < this.chunksInFlight) {
            const inputs = texts.slice(starts[sent], starts[sent + 1]).map((t) => t.slice(0, maxCharsSent));
            call.write({
              chunkId: String(sent),
              request: {
                model: { name: opts.model, version: opts.version },
                inputs,
                normalize: true,
                dimensions: opts.dimensions,
                rejectLongInputs: false,
              },
            });
            sent++;
          }
          if (sent === chunks) call.end();
        };
        call.on('data', (m: embeddingV1.EmbedStreamResponse) => {
          const t = m.response?.embeddings;
          if (t?.dims.length !== 2) return reject(new Error(`chunk ${m.chunkId}: malformed tensor`));
          const [n = 0, d = 0] = t.dims;
          if (!vectors) {
            dims = d;
            vectors = new Float32Array(texts.length * d);
            if (m.response?.model) model = m.response.model;
          }
          const bytes = Buffer.from(t.data);
          const rows = new Float32Array(bytes.buffer, bytes.byteOffset, n * d);
          vectors.set(rows, (starts[Number(m.chunkId)] as number) * d);
          done += n;
          answered++;
          onProgress(done);
          sendMore();
        });
        call.on('error', (err: { code?: number; details?: string }) =>
          reject(
            signal.aborted
              ? signal.reason
              : new SiftError('unavailable', `embedding service: ${err.details ?? String(err)}`, { cause: err }),
          ),
        );
        call.on('end', () => resolve());
        sendMore();
      });
    } finally {
      signal.removeEventListener('abort', abort);
    }
    if (!vectors || done !== texts.length) {
      throw new SiftError('internal', `embedding stream ended after ${done} of ${texts.length} texts`);
    }
    return { vectors, dims, model };
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Where each chunk starts (and, last, the text count): at most `batchSize` texts and, past its first text, at
 * most `maxBytes` of UTF-8 (texts counted as sent, after the cut to {@link maxCharsSent}).
 */
export function chunkStarts(texts: readonly string[], batchSize: number, maxBytes: number): number[] {
  const starts = [0];
  let count = 0;
  let bytes = 0;
  for (let i = 0; i < texts.length; i++) {
    const size = Buffer.byteLength((texts[i] as string).slice(0, maxCharsSent), 'utf8') + 8;
    if (count > 0 && (count >= batchSize || bytes + size > maxBytes)) {
      starts.push(i);
      count = 0;
      bytes = 0;
    }
    count++;
    bytes += size;
  }
  if (texts.length > 0) starts.push(texts.length);
  return starts;
}
