export * from './file-job-store.js';
