import type { ServerResponse } from 'node:http';
import type { Client, ClientReadableStream } from '@grpc/grpc-js';
import { type ClientClass, relayStatusEvents, type UpstreamChannel, unaryCall, upstreamChannel } from './upstream.js';

/** A generated client of a job service, of which WatchJob is called directly (the rest through `unaryCall`). */
interface JobServiceClient extends Client {
  watchJob(request: { jobId: string }): ClientReadableStream<{ status?: unknown }>;
}

/**
 * The message types of a job service's job RPCs, as its generated module (`selectionV1`, `pruningV1`) has
 * them: the gateway converts them from and to protobuf JSON. `J` is the service's Job message.
 */
export interface JobServiceMessages<J> {
  ListJobsRequest: { fromJSON(object: any): unknown };
  ListJobsResponse: { toJSON(message: any): unknown };
  GetJobResponse: { toJSON(message: { job?: J | undefined }): unknown };
  CancelJobResponse: { toJSON(message: any): unknown };
  JobStatus: { toJSON(message: any): unknown };
}

/**
 * Promise-returning client of a job service (selection, pruning), with a deadline per call: the job RPCs
 * both have alike (ListJobs, GetJob, CancelJob and WatchJob, answered as protobuf JSON), and its submits.
 */
export class JobUpstream<J> {
  readonly channel: UpstreamChannel<JobServiceClient>;
  /** The service's protobuf package (`sift.selection.v1`), where its request types are named. */
  readonly protoPackage: string;

  /** `maxMessageBytes`: as the services allow; a job record holds its request (inline texts up to that). */
  constructor(
    client: ClientClass<JobServiceClient> & { serviceName: string },
    private readonly messages: JobServiceMessages<J>,
    address: string,
    maxMessageBytes: number,
  ) {
    this.channel = upstreamChannel(client, address, maxMessageBytes);
    this.protoPackage = client.serviceName.split('.').slice(0, -1).join('.');
  }

  /**
   * A submit RPC (`method`: `submitJob`, `submitAnalysis`, ...). When `signal` aborts (the HTTP client went
   * away) the call is cancelled, and the service creates no job.
   */
  submit<Res>(method: string, request: unknown, timeoutMs: number, signal?: AbortSignal): Promise<Res> {
    return unaryCall(this.channel, method, request, timeoutMs, signal);
  }

  /** A page of jobs, newest first; `query` is the ListJobsRequest as protobuf JSON, checked by the caller. */
  async list(query: unknown, timeoutMs: number): Promise<unknown> {
    const request = this.messages.ListJobsRequest.fromJSON(query);
    return this.messages.ListJobsResponse.toJSON(await unaryCall(this.channel, 'listJobs', request, timeoutMs));
  }

  /** The job's record. */
  async job(jobId: string, timeoutMs: number): Promise<J | undefined> {
    return (await unaryCall<JobServiceClient, unknown, { job?: J }>(this.channel, 'getJob', { jobId }, timeoutMs)).job;
  }

  /** GetJob's answer as protobuf JSON. */
  async get(jobId: string, timeoutMs: number): Promise<unknown> {
    return this.messages.GetJobResponse.toJSON({ job: await this.job(jobId, timeoutMs) });
  }

  /** CancelJob's answer as protobuf JSON. */
  async cancel(jobId: string, timeoutMs: number): Promise<unknown> {
    return this.messages.CancelJobResponse.toJSON(await unaryCall(this.channel, 'cancelJob', { jobId }, timeoutMs));
  }

  /**
   * The WatchJob stream as Server-Sent Events, one `status` event per change, closing when the job is final
   * or the client goes away.
   */
  watch(jobId: string, res: ServerResponse, onEnd: (err?: unknown) => void): void {
    const client = this.channel.client;
    relayStatusEvents(client.watchJob({ jobId }), this.messages.JobStatus.toJSON, res, (err) => {
      if (err) this.channel.failed(client, err);
      onEnd(err);
    });
  }

  close(): void {
    this.channel.close();
  }
}
