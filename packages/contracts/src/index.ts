/**
 * Sift's protobuf contracts as TypeScript. Everything under `gen/` is produced by `npm run generate`
 * from `proto/` and never edited by hand; this file only gives each package a namespace, because the
 * packages reuse message names (every service has its own `ListModelsRequest`). Importing it also makes
 * protobuf string decoding strict (see strict-utf8.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export * as commonV1 from './gen/sift/common/v1/common.js';
export * as complexityV1 from './gen/sift/complexity/v1/complexity_service.js';
export * as embeddingV1 from './gen/sift/embedding/v1/embedding_service.js';
export * as generationV1 from './gen/sift/generation/v1/generation_service.js';
export * as pruningV1 from './gen/sift/pruning/v1/pruning_service.js';
export * as selectionV1 from './gen/sift/selection/v1/selection_service.js';
export * as tokenizerV1 from './gen/sift/tokenizer/v1/tokenizer_service.js';
export { InvalidUtf8Error } from './strict-utf8.js';

/** Path of the binary FileDescriptorSet of every contract (built by `buf build`), for gRPC reflection. */
export const descriptorSetPath = fileURLToPath(new URL('./descriptor.binpb', import.meta.url));

/** The FileDescriptorSet bytes of every contract. */
export function readDescriptorSet(): Buffer {
  return readFileSync(descriptorSetPath);
}
