import { createLogger, onShutdownSignal } from '@sift/kit';
import { loadPruningConfig } from './config.js';
import { startPruningService } from './server.js';

const config = loadPruningConfig();
const logger = createLogger('pruning', config.logLevel);
const service = await startPruningService(config, logger);
// Parent processes (the demo, tests) read the port from this line.
process.stdout.write(`${JSON.stringify({ ready: 'pruning', port: service.port })}\n`);
onShutdownSignal(logger, () => service.stop());
