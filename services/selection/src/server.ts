import { resolve } from 'node:path';
import { Bus, RequestMetricsPublisher, subjects } from '@sift/bus';
import { selectionV1 } from '@sift/contracts';
import { DataRoots } from '@sift/datasets';
import { ModelStore, skippedManifestLogger } from '@sift/inference';
import { type Logger, startGrpcServer } from '@sift/kit';
import { StreamingEmbedder } from './adapters/embedding-client.js';
import { selectionHandlers } from './adapters/grpc.js';
import { StoreLanguageModels } from './adapters/language-model.js';
import { createSelectionKernels } from './adapters/onnx-kernels.js';
import type { SelectionConfig } from './config.js';
import { JobStore } from './jobs/job-store.js';
import { SelectionWorker } from './jobs/worker.js';
import { serviceFolders } from './pipeline/output-location.js';

/** A running selection service (gRPC API and, unless disabled, a queue worker). */
export interface SelectionService {
  readonly port: number;
  stop(graceMs?: number): Promise<void>;
}

export async function startSelectionService(config: SelectionConfig, logger: Logger): Promise<SelectionService> {
  const store = new JobStore(resolve(config.dataDir, 'jobs'));
  await store.checkWritable('SIFT_SELECTION_DATA_DIR');
  const dataRoots = DataRoots.parse(config.dataRoots);
  await dataRoots.checkExist('SIFT_DATA_ROOTS');
  const bus = await Bus.connect(config.natsUrl, 'sift-selection');
  const metrics = new RequestMetricsPublisher(bus, logger);
  const embedder = new StreamingEmbedder(config.embeddingAddress, config.maxMessageBytes);
  const languageModels = new StoreLanguageModels(
    new ModelStore(resolve(config.modelsDir), skippedManifestLogger(logger)),
    logger,
  );
  const kernels = await createSelectionKernels({ provider: config.provider, logger });
  const worker = new SelectionWorker(store, bus, embedder, kernels, logger, dataRoots, config, languageModels);
  const stopWorker = config.worker
    ? await bus.work(
        subjects.selectionJobSubmitted,
        'selection-workers',
        (m, deliveries) => worker.run(m.status?.jobId ?? '', deliveries),
        {
          ackWaitMs: config.ackWaitMs,
          onError: (err) => logger.error('job message failed', { err }),
        },
      )
    : async () => {};
  const server = await startGrpcServer({
    name: 'selection',
    host: config.host,
    port: config.port,
    logger,
    maxMessageBytes: config.maxMessageBytes,
    services: [
      {
        definition: selectionV1.SelectionServiceService,
        handlers: selectionHandlers(store, bus, dataRoots, languageModels, embedder, serviceFolders(config)),
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
      embedder.close();
      await languageModels.close();
      await metrics.close();
      await bus.close();
    },
  };
}
