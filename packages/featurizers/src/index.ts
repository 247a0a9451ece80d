export * from './code-ngrams.js';
export * from './code-tokens.js';
export * from './featurizer.js';
export * from './fnv1a.js';
export * from './glove-words.js';
export * from './hf-featurizer.js';
export * from './hf-tokenizer.js';
export * from './load.js';
