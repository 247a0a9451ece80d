export * from './batched-writer.js';
export * from './store.js';
