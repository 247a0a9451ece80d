import { join } from 'node:path';
import { type Child, startNats, startDeployable as startProcess } from './processes.js';

/** A local platform: NATS, the metrics consumer, the embedding service, the gateway and optionally selection and pruning. */
export interface LocalPlatform {
  natsUrl: string;
  embeddingAddress: string;
  gatewayUrl: string;
  /** host:port of the selection service, when started. */
  selectionAddress?: string;
  /** host:port of the pruning service, when started. */
  pruningAddress?: string;
  /**
   * Starts one more selection service process with the same settings: a replica on a new port, or (with
   * `port`) a restart in place of one that was killed, so the gateway reaches it at the same address.
   */
  startSelectionReplica(port?: number): Promise<Child & { port: number }>;
  /** The same for the pruning service (its worker takes queued jobs, e.g. one whose worker was killed). */
  startPruningReplica(port?: number): Promise<Child & { port: number }>;
  /** Folder of the embedded ClickHouse the metrics consumer writes. */
  clickhouseDir: string;
  children: Child[];
  /** Stops everything in reverse start order (services drain, the consumer flushes). */
  stop(): Promise<void>;
}

/** Starts the platform on free loopback ports, storing metrics under `dataDir`. */
export async function startPlatform(
  dataDir: string,
  extraEnv: Record<string, string> = {},
  opts: {
    selection?: boolean;
    pruning?: boolean;
    /** Settings of the pruning service only, e.g. SIFT_MODELS_DIR of a model store it may write. */
    pruningEnv?: Record<string, string>;
    /** The gateway's port; 0 (the default) picks a free one. */
    gatewayPort?: number;
    /**
     * Keep NATS's JetStream data in `<dataDir>/nats` across restarts, so jobs queued or running when the
     * platform stopped are taken up again (their saved stages reused). Otherwise it is temporary.
     */
    persistentBus?: boolean;
    /** A folder where each process appends its logs (`<name>.log`); otherwise only their last lines are kept. */
    logDir?: string;
  } = {},
): Promise<LocalPlatform> {
  const children: Child[] = [];
  const stop = async () => {
    for (const c of [...children].reverse()) await c.stop();
  };
  const startDeployable = (name: string, entry: string, env: Record<string, string>) =>
    startProcess(name, entry, env, opts.logDir ? { logFile: join(opts.logDir, `${name}.log`) } : {});
  try {
    const nats = await startNats(opts.persistentBus ? { storeDir: join(dataDir, 'nats') } : {});
    children.push(nats);
    const clickhouseDir = join(dataDir, 'clickhouse');
    const common = { SIFT_NATS_URL: nats.url, ...extraEnv };
    children.push(
      await startDeployable('metrics-consumer', 'services/metrics/src/main.ts', {
        ...common,
        SIFT_METRICS_DATA_DIR: clickhouseDir,
      }),
    );
    const embedding = await startDeployable('embedding', 'services/embedding/src/main.ts', {
      ...common,
      SIFT_EMBEDDING_PORT: '0',
    });
    children.push(embedding);
    const embeddingAddress = `127.0.0.1:${embedding.port}`;
    const selectionEnv = {
      ...common,
      SIFT_SELECTION_PORT: '0',
      SIFT_SELECTION_DATA_DIR: join(dataDir, 'selection'),
      SIFT_EMBEDDING_ADDRESS: embeddingAddress,
    };
    /** One more process of a job service, on `port` when given (a restart in place of a killed one). */
    const replicaStarter =
      (name: string, entry: string, env: Record<string, string>, portKey: string) => async (port?: number) => {
        const child = await startDeployable(name, entry, { ...env, ...(port ? { [portKey]: String(port) } : {}) });
        children.push(child);
        return child;
      };
    const startSelectionReplica = replicaStarter(
      'selection',
      'services/selection/src/main.ts',
      selectionEnv,
      'SIFT_SELECTION_PORT',
    );
    const selection = opts.selection ? await startSelectionReplica() : undefined;
    const selectionAddress = selection ? `127.0.0.1:${selection.port}` : undefined;
    const startPruningReplica = replicaStarter(
      'pruning',
      'services/pruning/src/main.ts',
      {
        ...common,
        SIFT_PRUNING_PORT: '0',
        SIFT_PRUNING_DATA_DIR: join(dataDir, 'pruning'),
        ...opts.pruningEnv,
      },
      'SIFT_PRUNING_PORT',
    );
    const pruning = opts.pruning ? await startPruningReplica() : undefined;
    const pruningAddress = pruning ? `127.0.0.1:${pruning.port}` : undefined;
    const gateway = await startDeployable('gateway', 'gateway/src/main.ts', {
      ...common,
      SIFT_GATEWAY_PORT: String(opts.gatewayPort ?? 0),
      SIFT_EMBEDDING_ADDRESS: embeddingAddress,
      ...(selectionAddress ? { SIFT_SELECTION_ADDRESS: selectionAddress } : {}),
      ...(pruningAddress ? { SIFT_PRUNING_ADDRESS: pruningAddress } : {}),
    });
    children.push(gateway);
    return {
      natsUrl: nats.url,
      embeddingAddress,
      ...(selectionAddress ? { selectionAddress } : {}),
      ...(pruningAddress ? { pruningAddress } : {}),
      startSelectionReplica,
      startPruningReplica,
      gatewayUrl: `http://127.0.0.1:${gateway.port}`,
      clickhouseDir,
      children,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
