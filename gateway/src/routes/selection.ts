import type { ServerResponse } from 'node:http';
import { credentials, Metadata } from '@grpc/grpc-js';
import { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';

/** Promise-returning client of the selection service, with a deadline per call. */
export class SelectionUpstream {
  readonly client: selectionV1.SelectionServiceClient;

  constructor(address: string) {
    this.client = new selectionV1.SelectionServiceClient(address, credentials.createInsecure());
  }

  private unary<Req, Res>(method: 'submitJob' | 'getJob' | 'cancelJob', req: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method].bind(this.client) as unknown as (
        r: Req,
        m: Metadata,
        o: { deadline: Date },
        cb: (e: unknown, r: Res) => void,
      ) => void;
      fn(req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (e, r) => (e ? reject(e) : resolve(r)));
    });
  }

  /** POST /v1/selection/jobs: the body is a SubmitJobRequest in protobuf JSON (camelCase or snake_case). */
  submit(body: unknown, timeoutMs: number): Promise<selectionV1.SubmitJobResponse> {
    if (typeof body !== 'object' || body === null)
      throw new SiftError('invalid_argument', 'body must be a SubmitJobRequest JSON object');
    return this.unary('submitJob', selectionV1.SubmitJobRequest.fromJSON(body), timeoutMs);
  }

  get(jobId: string, timeoutMs: number): Promise<selectionV1.GetJobResponse> {
    return this.unary('getJob', { jobId }, timeoutMs);
  }

  cancel(jobId: string, timeoutMs: number): Promise<selectionV1.CancelJobResponse> {
    return this.unary('cancelJob', { jobId }, timeoutMs);
  }

  /**
   * GET /v1/selection/jobs/{id}/events: the WatchJob stream as Server-Sent Events, one `status` event per
   * change, closing when the job is final or the client goes away.
   */
  watch(jobId: string, res: ServerResponse, onEnd: (err?: unknown) => void): void {
    const call = this.client.watchJob({ jobId });
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
    };
    call.on('data', (m: selectionV1.WatchJobResponse) => {
      start();
      res.write(
        `event: status\ndata: ${JSON.stringify(selectionV1.JobStatus.toJSON(m.status ?? ({} as selectionV1.JobStatus)))}\n\n`,
      );
    });
    call.on('end', () => {
      start();
      res.end();
      onEnd();
    });
    call.on('error', (err: { code?: number }) => {
      if (started) {
        res.end();
        onEnd();
      } else onEnd(err);
    });
    res.on('close', () => call.cancel());
  }

  close(): void {
    this.client.close();
  }
}
