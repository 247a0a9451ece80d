export * from './bus.js';
export * from './request-metrics.js';
export * from './subjects.js';
