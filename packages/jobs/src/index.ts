export * from './file-job-store.js';
export * from './watch.js';
