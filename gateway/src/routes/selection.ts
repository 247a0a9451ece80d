import type { ServerResponse } from 'node:http';
import { credentials } from '@grpc/grpc-js';
import { selectionV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { relayStatusEvents, unaryCall } from './upstream.js';

/** Promise-returning client of the selection service, with a deadline per call. */
export class SelectionUpstream {
  readonly client: selectionV1.SelectionServiceClient;

  /** `maxMessageBytes`: as the services allow; a job record holds its request (inline texts up to that). */
  constructor(address: string, maxMessageBytes: number) {
    this.client = new selectionV1.SelectionServiceClient(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    });
  }

  /** POST /v1/selection/jobs: the body is a SubmitJobRequest in protobuf JSON (camelCase or snake_case). */
  submit(body: unknown, timeoutMs: number): Promise<selectionV1.SubmitJobResponse> {
    if (typeof body !== 'object' || body === null)
      throw new SiftError('invalid_argument', 'body must be a SubmitJobRequest JSON object');
    return unaryCall(this.client, 'submitJob', selectionV1.SubmitJobRequest.fromJSON(body), timeoutMs);
  }

  /** GET /v1/selection/jobs: a page of jobs, newest first. */
  list(request: selectionV1.ListJobsRequest, timeoutMs: number): Promise<selectionV1.ListJobsResponse> {
    return unaryCall(this.client, 'listJobs', request, timeoutMs);
  }

  get(jobId: string, timeoutMs: number): Promise<selectionV1.GetJobResponse> {
    return unaryCall(this.client, 'getJob', { jobId }, timeoutMs);
  }

  cancel(jobId: string, timeoutMs: number): Promise<selectionV1.CancelJobResponse> {
    return unaryCall(this.client, 'cancelJob', { jobId }, timeoutMs);
  }

  /**
   * GET /v1/selection/jobs/{id}/events: the WatchJob stream as Server-Sent Events, one `status` event per
   * change, closing when the job is final or the client goes away.
   */
  watch(jobId: string, res: ServerResponse, onEnd: (err?: unknown) => void): void {
    relayStatusEvents(this.client.watchJob({ jobId }), selectionV1.JobStatus.toJSON, res, onEnd);
  }

  close(): void {
    this.client.close();
  }
}
