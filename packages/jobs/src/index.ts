export * from './file-job-store.js';
export * from './job-runner.js';
export * from './watch.js';
