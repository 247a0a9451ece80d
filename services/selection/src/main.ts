import { configOrExit, createLogger, exitWithHelpIfAsked, onShutdownSignal, startOrExit } from '@sift/kit';
import { loadSelectionConfig, selectionConfigSpec } from './config.js';
import { startSelectionService } from './server.js';

exitWithHelpIfAsked('selection', selectionConfigSpec);
const config = configOrExit('selection', loadSelectionConfig);
const logger = createLogger('selection', config.logLevel);
const service = await startOrExit(logger, () => startSelectionService(config, logger));
// Parent processes (the demo, tests) read the port from this line.
process.stdout.write(`${JSON.stringify({ ready: 'selection', port: service.port })}\n`);
onShutdownSignal(logger, () => service.stop());
