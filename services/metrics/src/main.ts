import { configOrExit, createLogger, exitWithHelpIfAsked, onShutdownSignal, startOrExit } from '@sift/kit';
import { loadMetricsConsumerConfig, metricsConsumerConfigSpec } from './config.js';
import { startMetricsConsumer } from './consumer.js';

exitWithHelpIfAsked('metrics consumer', metricsConsumerConfigSpec);
const config = configOrExit('metrics', loadMetricsConsumerConfig);
const logger = createLogger('metrics-consumer', config.logLevel);
const consumer = await startOrExit(logger, () => startMetricsConsumer(config, logger));
// Parent processes (the demo, tests) wait for this line.
process.stdout.write(`${JSON.stringify({ ready: 'metrics-consumer', port: 0 })}\n`);
onShutdownSignal(logger, () => consumer.stop());
