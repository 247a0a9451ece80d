import { createLogger, onShutdownSignal } from '@sift/kit';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './server.js';

const config = loadGatewayConfig();
const logger = createLogger('gateway', config.logLevel);
const gateway = await startGateway(config, logger);
process.stdout.write(`${JSON.stringify({ ready: 'gateway', port: gateway.port })}\n`);
onShutdownSignal(logger, () => gateway.stop());
