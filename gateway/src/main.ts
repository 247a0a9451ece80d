import { configOrExit, createLogger, exitWithHelpIfAsked, onShutdownSignal, startOrExit } from '@sift/kit';
import { gatewayConfigSpec, loadGatewayConfig } from './config.js';
import { startGateway } from './server.js';

exitWithHelpIfAsked('gateway', gatewayConfigSpec);
const config = configOrExit('gateway', loadGatewayConfig);
const logger = createLogger('gateway', config.logLevel);
const gateway = await startOrExit(logger, () => startGateway(config, logger));
process.stdout.write(`${JSON.stringify({ ready: 'gateway', port: gateway.port })}\n`);
onShutdownSignal(logger, () => gateway.stop());
