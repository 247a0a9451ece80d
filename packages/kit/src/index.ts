export * from './config.js';
export * from './enums.js';
export * from './errors.js';
export * from './grpc-server.js';
export * from './logger.js';
export * from './message-text.js';
export * from './shutdown.js';
export * from './time-slicer.js';
