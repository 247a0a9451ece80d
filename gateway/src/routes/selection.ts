import type { ServerResponse } from 'node:http';
import { credentials } from '@grpc/grpc-js';
import { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { relayStatusEvents, UpstreamChannel, unaryCall, upstreamChannelOptions } from './upstream.js';

/** Promise-returning client of the selection service, with a deadline per call. */
export class SelectionUpstream {
  readonly channel: UpstreamChannel<selectionV1.SelectionServiceClient>;

  /** `maxMessageBytes`: as the services allow; a job record holds its request (inline texts up to that). */
  constructor(address: string, maxMessageBytes: number) {
    this.channel = new UpstreamChannel(
      () =>
        new selectionV1.SelectionServiceClient(
          address,
          credentials.createInsecure(),
          upstreamChannelOptions(maxMessageBytes),
        ),
    );
  }

  /** POST /v1/selection/jobs: the body is a SubmitJobRequest in protobuf JSON (camelCase or snake_case). */
  submit(body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<selectionV1.SubmitJobResponse> {
    if (typeof body !== 'object' || body === null)
      throw new SiftError('invalid_argument', 'body must be a SubmitJobRequest JSON object');
    return unaryCall(this.channel, 'submitJob', selectionV1.SubmitJobRequest.fromJSON(body), timeoutMs, signal);
  }

  /** GET /v1/selection/jobs: a page of jobs, newest first. */
  list(request: selectionV1.ListJobsRequest, timeoutMs: number): Promise<selectionV1.ListJobsResponse> {
    return unaryCall(this.channel, 'listJobs', request, timeoutMs);
  }

  get(jobId: string, timeoutMs: number): Promise<selectionV1.GetJobResponse> {
    return unaryCall(this.channel, 'getJob', { jobId }, timeoutMs);
  }

  cancel(jobId: string, timeoutMs: number): Promise<selectionV1.CancelJobResponse> {
    return unaryCall(this.channel, 'cancelJob', { jobId }, timeoutMs);
  }

  /**
   * GET /v1/selection/jobs/{id}/events: the WatchJob stream as Server-Sent Events, one `status` event per
   * change, closing when the job is final or the client goes away.
   */
  watch(jobId: string, res: ServerResponse, onEnd: (err?: unknown) => void): void {
    const client = this.channel.client;
    relayStatusEvents(client.watchJob({ jobId }), selectionV1.JobStatus.toJSON, res, (err) => {
      if (err) this.channel.failed(client, err);
      onEnd(err);
    });
  }

  close(): void {
    this.channel.close();
  }
}
