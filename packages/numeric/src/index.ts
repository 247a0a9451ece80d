export * from './kmeans.js';
export * from './rng.js';
export * from './stats.js';
export * from './vectors.js';
