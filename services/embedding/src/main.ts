import { configOrExit, createLogger, exitWithHelpIfAsked, onShutdownSignal, startOrExit } from '@sift/kit';
import { embeddingConfigSpec, loadEmbeddingConfig } from './config.js';
import { startEmbeddingService } from './server.js';

exitWithHelpIfAsked('embedding', embeddingConfigSpec);
const config = configOrExit('embedding', loadEmbeddingConfig);
const logger = createLogger('embedding', config.logLevel);
const service = await startOrExit(logger, () => startEmbeddingService(config, logger));
// Parent processes (the demo, tests) read the port from this line.
process.stdout.write(`${JSON.stringify({ ready: 'embedding', port: service.port })}\n`);
onShutdownSignal(logger, () => service.stop());
