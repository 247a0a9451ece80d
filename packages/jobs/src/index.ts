export * from './checkpoints.js';
export * from './enqueue.js';
export * from './file-job-store.js';
export * from './job-events.js';
export * from './job-service-handlers.js';
export * from './job-worker.js';
export * from './watch.js';
