export * from './adapters/onnx-graph.js';
export * from './domain/angular-distance.js';
export * from './domain/least-squares.js';
