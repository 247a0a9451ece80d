import { type commonV1, selectionV1 } from '@sift/contracts';

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

/** `selection_decisions` rows for one records_decided event (002_selection_decisions.sql). */
export function decisionRows(e: selectionV1.RecordsDecided): Record<string, unknown>[] {
  return e.decisions.map((d) => ({
    decided_at: e.publishedAtMs,
    job_id: e.jobId,
    record_id: d.recordId,
    kept: d.kept,
    stage: d.stage,
    reason: selectionV1.decisionReasonToJSON(d.reason).replace('DECISION_REASON_', '').toLowerCase(),
    duplicate_of: d.duplicateOf,
    cluster: d.cluster ?? null,
    score: d.score ?? null,
  }));
}
