import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { pruningV1 } from '@sift/contracts';
import { startPlatform } from '@sift/launcher';
import { readmeTexts } from './datasets.js';
import { writeModelStore } from './model-store.js';
import { call, type PruningClient } from './pruning-calls.js';
import { SuitePlatform } from './suite-platform.js';

/** Calibration texts of the pruning tests: 16 windows of 256 bytes of README prose. */
export const calibration = readmeTexts(16, 256);
/** Held-out texts of the pruning tests: the 8 windows after the calibration texts. */
export const evaluation = readmeTexts(8, 256, 16);

/**
 * The platform a pruning describe block runs its jobs on, with the pruning service over a copy of the model
 * store in the test's folder (`modelsDir`, see writeModelStore), two threads, and an ack wait of 3 s.
 */
export class PruningSuite extends SuitePlatform<PruningClient> {
  constructor() {
    super({
      prefix: 'sift-prune-',
      start: async (dataDir) => {
        const modelsDir = join(dataDir, 'models');
        writeModelStore(modelsDir);
        return startPlatform(
          dataDir,
          {},
          {
            pruning: true,
            pruningEnv: {
              SIFT_MODELS_DIR: modelsDir,
              SIFT_PRUNING_THREADS: '2',
              SIFT_DATA_ROOTS: dataDir,
              // A killed worker's job is redelivered after 3 s (live workers keep theirs with heartbeats).
              SIFT_PRUNING_ACK_WAIT_MS: '3000',
            },
          },
        );
      },
      connect: (platform) =>
        new pruningV1.PruningServiceClient(platform.pruningAddress ?? '', credentials.createInsecure()),
      startTimeoutMs: 60_000,
    });
  }

  /** The model store the pruning service reads and writes: a copy in the test's folder. */
  get modelsDir(): string {
    return join(this.dataDir, 'models');
  }

  /** Submits an analysis over gRPC; its job id. */
  readonly submitAnalysis = async (spec: pruningV1.DeepPartial<pruningV1.AnalysisSpec>) =>
    (
      await call<pruningV1.SubmitAnalysisRequest, pruningV1.SubmitAnalysisResponse>(
        this.client,
        'submitAnalysis',
        pruningV1.SubmitAnalysisRequest.fromPartial({ spec }),
      )
    ).jobId;

  /** An analysis of byte-gpt calibrated on the plain-text file at `path`; its job id. */
  readonly analyseFile = (path: string) =>
    this.submitAnalysis({
      model: { name: 'byte-gpt', version: '' },
      calibration: { texts: { source: { $case: 'dataset', value: { path, textField: '', limit: 0 } } } },
    });
}
