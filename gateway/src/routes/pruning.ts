import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { credentials } from '@grpc/grpc-js';
import { pruningV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import { relayStatusEvents, UpstreamChannel, unaryCall, upstreamChannelOptions } from './upstream.js';

/** Promise-returning client of the pruning service, with a deadline per call. */
export class PruningUpstream {
  readonly channel: UpstreamChannel<pruningV1.PruningServiceClient>;

  /** `maxMessageBytes`: as the services allow; a job record holds its request (inline texts up to that). */
  constructor(address: string, maxMessageBytes: number) {
    this.channel = new UpstreamChannel(
      () =>
        new pruningV1.PruningServiceClient(
          address,
          credentials.createInsecure(),
          upstreamChannelOptions(maxMessageBytes),
        ),
    );
  }

  /** POST /v1/pruning/analyses: the body is a SubmitAnalysisRequest in protobuf JSON. */
  submitAnalysis(body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<pruningV1.SubmitAnalysisResponse> {
    if (typeof body !== 'object' || body === null)
      throw new SiftError('invalid_argument', 'body must be a SubmitAnalysisRequest JSON object');
    return unaryCall(this.channel, 'submitAnalysis', pruningV1.SubmitAnalysisRequest.fromJSON(body), timeoutMs, signal);
  }

  /** POST /v1/pruning/prunings: the body is a SubmitPruningRequest in protobuf JSON. */
  submitPruning(body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<pruningV1.SubmitPruningResponse> {
    if (typeof body !== 'object' || body === null)
      throw new SiftError('invalid_argument', 'body must be a SubmitPruningRequest JSON object');
    return unaryCall(this.channel, 'submitPruning', pruningV1.SubmitPruningRequest.fromJSON(body), timeoutMs, signal);
  }

  /** GET /v1/pruning/jobs: a page of jobs, newest first. */
  list(request: pruningV1.ListJobsRequest, timeoutMs: number): Promise<pruningV1.ListJobsResponse> {
    return unaryCall(this.channel, 'listJobs', request, timeoutMs);
  }

  get(jobId: string, timeoutMs: number): Promise<pruningV1.GetJobResponse> {
    return unaryCall(this.channel, 'getJob', { jobId }, timeoutMs);
  }

  cancel(jobId: string, timeoutMs: number): Promise<pruningV1.CancelJobResponse> {
    return unaryCall(this.channel, 'cancelJob', { jobId }, timeoutMs);
  }

  /** GET /v1/pruning/jobs/{id}/events: the WatchJob stream as Server-Sent Events, as for selection jobs. */
  watch(jobId: string, res: ServerResponse, onEnd: (err?: unknown) => void): void {
    const client = this.channel.client;
    relayStatusEvents(client.watchJob({ jobId }), pruningV1.JobStatus.toJSON, res, (err) => {
      if (err) this.channel.failed(client, err);
      onEnd(err);
    });
  }

  /**
   * The PNG heatmap of a finished analysis (l*(n) outlined) or pruning (the removed block outlined; none
   * when the start layer was given). The service writes it into its job folder; the gateway reads
   * it from there, so both must see the same volume (as replicas of the service already must).
   */
  async heatmap(jobId: string, timeoutMs: number): Promise<Buffer> {
    const { job } = await this.get(jobId, timeoutMs);
    const path = job?.result?.value.heatmapPath ?? '';
    if (!path) {
      throw new SiftError(
        'failed_precondition',
        `job ${jobId} has no heatmap: only finished analyses, and prunings whose block came from distances, have one`,
      );
    }
    return readFile(path).catch((err: unknown) => {
      throw new SiftError('unavailable', `heatmap of job ${jobId} is not readable from the gateway (${path})`, {
        cause: err,
      });
    });
  }

  close(): void {
    this.channel.close();
  }
}
