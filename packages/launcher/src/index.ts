export * from './platform.js';
export * from './processes.js';
