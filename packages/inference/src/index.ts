export * from './batcher.js';
export * from './manifest.js';
export * from './model-store.js';
export * from './sessions.js';
export * from './tensors.js';
