export * from './batcher.js';
export * from './byte-lm.js';
export * from './kmeans-assign.js';
export * from './manifest.js';
export * from './model-store.js';
export * from './onnx-writer.js';
export * from './sessions.js';
export * from './tensors.js';
