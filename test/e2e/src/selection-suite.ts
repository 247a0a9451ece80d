import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { selectionV1 } from '@sift/contracts';
import { startPlatform, waitUntil } from '@sift/launcher';
import { SuitePlatform } from './suite-platform.js';

/**
 * The platform a selection describe block runs its jobs on: NATS work queue, embedding service, selection
 * worker (its ack wait 3 s, so a killed worker's job is redelivered soon), metrics consumer on embedded
 * ClickHouse, HTTP gateway; and the routes the tests use, through the gateway.
 */
export class SelectionSuite extends SuitePlatform<selectionV1.SelectionServiceClient> {
  constructor() {
    super({
      prefix: 'sift-sel-',
      // Jobs may only touch files under the test's folder (SIFT_DATA_ROOTS), as in a shared deployment.
      start: (dataDir) =>
        startPlatform(dataDir, { SIFT_SELECTION_ACK_WAIT_MS: '3000', SIFT_DATA_ROOTS: dataDir }, { selection: true }),
      connect: (platform) =>
        new selectionV1.SelectionServiceClient(platform.selectionAddress ?? '', credentials.createInsecure()),
    });
  }

  /** POSTs a job through the gateway: the HTTP status and the JSON answer. */
  readonly submit = async (body: unknown) => {
    const res = await fetch(`${this.platform.gatewayUrl}/v1/selection/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  /** The job as the gateway answers GET /v1/selection/jobs/{id}. */
  readonly job = async (id: string) =>
    (await (await fetch(`${this.platform.gatewayUrl}/v1/selection/jobs/${id}`)).json()) as {
      job: Record<string, any>;
    };

  /** The job once it succeeded, failed or was cancelled. */
  readonly final = async (jobId: string, timeoutMs = 60_000) => {
    await waitUntil(async () => /SUCCEEDED|FAILED|CANCELLED/.test((await this.job(jobId)).job.status.state), timeoutMs);
    return (await this.job(jobId)).job;
  };
}

/** The news pipeline of the semantic-dedup tests over `dataset`: embed, k-means (k = 8), SemDeDup, into `out`. */
export const pipeline = (dataset: string, out: string) => ({
  dataset: { paths: [dataset], textField: 'text', idField: 'id' },
  steps: [
    { name: 'embed', embed: { batchSize: 64 } },
    { name: 'cluster', kmeans: { k: 8, seed: 3 } },
    { name: 'semdedup', semDedup: { eps: 0.05, reportEps: [0.005, 0.02, 0.05] } },
  ],
  output: { path: out },
});

/** The job's decisions file, one parsed line per record. */
export const decisionsIn = (out: string): Record<string, any>[] =>
  readFileSync(join(out, 'decisions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
