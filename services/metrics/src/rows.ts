import type { commonV1 } from '@sift/contracts';

/** The `requests` row for one request_completed event (column names as in 001_requests.sql). */
export function requestRow(e: commonV1.RequestCompleted): Record<string, unknown> {
  return {
    finished_at: e.finishedAtMs,
    service: e.service,
    method: e.method,
    status: e.status,
    latency_ms: e.latencyMs,
    batch_size: e.batchSize,
    model_name: e.model?.name ?? '',
    model_version: e.model?.version ?? '',
  };
}
