import { configOrExit, createLogger, exitWithHelpIfAsked, onShutdownSignal, startOrExit } from '@sift/kit';
import { loadPruningConfig, pruningConfigSpec } from './config.js';
import { startPruningService } from './server.js';

exitWithHelpIfAsked('pruning', pruningConfigSpec);
const config = configOrExit('pruning', loadPruningConfig);
const logger = createLogger('pruning', config.logLevel);
const service = await startOrExit(logger, () => startPruningService(config, logger));
// Parent processes (the demo, tests) read the port from this line.
process.stdout.write(`${JSON.stringify({ ready: 'pruning', port: service.port })}\n`);
onShutdownSignal(logger, () => service.stop());
