/**
 * Starts the whole platform and keeps it running until Ctrl-C, so the README's curl examples have a gateway
 * to talk to: NATS, the metrics consumer (embedded ClickHouse), the embedding, selection and pruning
 * services and the gateway on SIFT_GATEWAY_PORT (default 8080); the rest on free loopback ports. Data lives
 * under SIFT_SERVE_DATA_DIR (default .data/serve/); the pruning service writes its models into its models/
 * folder (a copy of the trained language models), never into the repository's models/. Two platforms on one
 * machine need two data folders (and two gateway ports).
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configOrExit, exitWithHelpIfAsked, key, loadConfig } from '@sift/kit';
import { repoRoot, startPlatform } from '@sift/launcher';

const spec = {
  port: key.port('SIFT_GATEWAY_PORT', 8080, 'the gateway port'),
  dataDir: key.string('SIFT_SERVE_DATA_DIR', join(repoRoot, '.data', 'serve'), 'NATS, ClickHouse and job data'),
};
exitWithHelpIfAsked('serve (the whole platform until Ctrl-C)', spec);
const config = configOrExit('serve', () => loadConfig(spec));
const { port } = config;
const dataDir = resolve(config.dataDir);
const models = join(dataDir, 'models');
mkdirSync(dataDir, { recursive: true });
if (!existsSync(join(models, 'byte-gpt'))) {
  cpSync(join(repoRoot, 'models', 'byte-gpt'), join(models, 'byte-gpt'), { recursive: true });
}
const platform = await startPlatform(
  dataDir,
  {},
  {
    selection: true,
    pruning: true,
    pruningEnv: { SIFT_MODELS_DIR: models },
    gatewayPort: port,
    persistentBus: true,
    logDir: join(dataDir, 'logs'),
  },
);
process.stdout.write(
  [
    `gateway    ${platform.gatewayUrl}   (try: curl -s ${platform.gatewayUrl}/healthz)`,
    `embedding  ${platform.embeddingAddress}   selection ${platform.selectionAddress}   pruning ${platform.pruningAddress}`,
    `NATS       ${platform.natsUrl}   ClickHouse (embedded) ${platform.clickhouseDir}`,
    `pruned models go to ${models}; dataset and output paths are read on this machine (use absolute paths)`,
    `service logs (JSON lines) go to ${join(dataDir, 'logs')}/<service>.log`,
    'Ctrl-C stops everything (services drain, the metrics consumer flushes).',
    '',
  ].join('\n'),
);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping...\n');
    void platform.stop().then(() => process.exit(0));
  });
}
