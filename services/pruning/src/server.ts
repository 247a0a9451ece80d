import { resolve } from 'node:path';
import { Bus, RequestMetricsPublisher, subjects } from '@sift/bus';
import { pruningV1 } from '@sift/contracts';
import { DataRoots } from '@sift/datasets';
import { ModelStore, skippedManifestLogger } from '@sift/inference';
import { type Logger, startGrpcServer } from '@sift/kit';
import { pruningHandlers } from './adapters/grpc.js';
import type { PruningConfig } from './config.js';
import { JobStore } from './jobs/job-store.js';
import { PruningWorker } from './jobs/worker.js';

/** A running pruning service (gRPC API and, unless disabled, a queue worker). */
export interface PruningService {
  readonly port: number;
  stop(graceMs?: number): Promise<void>;
}

export async function startPruningService(config: PruningConfig, logger: Logger): Promise<PruningService> {
  const store = new JobStore(resolve(config.dataDir, 'jobs'));
  await store.checkWritable('SIFT_PRUNING_DATA_DIR');
  const dataRoots = DataRoots.parse(config.dataRoots);
  await dataRoots.checkExist('SIFT_DATA_ROOTS');
  const models = new ModelStore(resolve(config.modelsDir), skippedManifestLogger(logger));
  const bus = await Bus.connect(config.natsUrl, 'sift-pruning');
  const metrics = new RequestMetricsPublisher(bus, logger);
  const runtime = {
    threads: config.threads,
    provider: config.provider,
    logger: logger.child({ component: 'onnxruntime' }),
  };
  const worker = new PruningWorker(store, bus, models, runtime, logger);
  const stopWorker = config.worker
    ? await bus.work(
        subjects.pruningJobSubmitted,
        'pruning-workers',
        (m, deliveries) => worker.run(m.status?.jobId ?? '', deliveries),
        {
          ackWaitMs: config.ackWaitMs,
          onError: (err) => logger.error('job message failed', { err }),
        },
      )
    : async () => {};
  const server = await startGrpcServer({
    name: 'pruning',
    host: config.host,
    port: config.port,
    logger,
    maxMessageBytes: config.maxMessageBytes,
    services: [
      {
        definition: pruningV1.PruningServiceService,
        handlers: pruningHandlers(store, bus, models, dataRoots),
      },
    ],
    onCallFinished: metrics.record,
  });
  return {
    port: server.port,
    async stop(graceMs) {
      await server.shutdown(graceMs);
      worker.shutdown();
      await stopWorker();
      await metrics.close();
      await bus.close();
    },
  };
}
