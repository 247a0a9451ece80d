export * from './clustered-embeddings.js';
export * from './d4.js';
export * from './density-pruning.js';
export * from './earlier-similarity.js';
export * from './parameter-checks.js';
export * from './quota-projection.js';
export * from './sem-dedup.js';
export * from './ssl-prototypes.js';
