import { type commonV1, pruningV1, selectionV1 } from '@sift/contracts';
import { type CheckedRow, checkRow, type TableChecks, time, uint32, uint64 } from './row-checks.js';

/**
 * `requests`' numeric columns. latency_ms is not Nullable: a request row with a latency that is not a
 * finite number >= 0 is skipped (a publisher bug, not a measurement; the table is too large to rewrite the
 * column for it). HTTP statuses have three digits, and 0 stands for an RPC.
 */
export const requestChecks: TableChecks = {
  finished_at: time,
  latency_ms: { kind: 'float', min: 0 },
  batch_size: uint32,
  http_status: { kind: 'uint', max: 599 },
};

/** The `requests` row for one request of a requests_completed event (column names as in 001_requests.sql). */
export function requestRow(e: commonV1.RequestCompleted, receivedAtMs: number): CheckedRow {
  return checkRow(requestValues(e), requestChecks, receivedAtMs);
}

function requestValues(e: commonV1.RequestCompleted): Record<string, unknown> {
  return {
    finished_at: e.finishedAtMs,
    service: e.service,
    method: e.method,
    status: e.status,
    latency_ms: e.latencyMs,
    batch_size: e.batchSize,
    model_name: e.model?.name ?? '',
    model_version: e.model?.version ?? '',
    http_status: e.httpStatus,
  };
}

/** `selection_decisions`' numeric columns. */
export const decisionChecks: TableChecks = {
  decided_at: time,
  cluster: { ...uint32, nullable: true },
  score: { kind: 'float', nullable: true },
};

/** `selection_decisions` rows for one records_decided event (002_selection_decisions.sql, 005, 008). */
export function decisionRows(e: selectionV1.RecordsDecided, receivedAtMs: number): CheckedRow[] {
  return decisionValues(e).map((row) => checkRow(row, decisionChecks, receivedAtMs));
}

function decisionValues(e: selectionV1.RecordsDecided): Record<string, unknown>[] {
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
    score_stage: d.scoreStage,
    detail: d.detail,
  }));
}

/**
 * `pruning_runs`' numeric columns. Bits per byte and latencies are Nullable (007): NaN bits/byte (a pruned
 * model whose loss diverged) is stored as NULL, never as 0, which would read as a perfect model.
 */
export const pruningRunChecks: TableChecks = {
  completed_at: time,
  start_layer: uint32,
  block_size: uint32,
  distance: { kind: 'float', nullable: true },
  ridge_alpha: { kind: 'float', min: 0 },
  layers_before: uint32,
  layers_after: uint32,
  bits_per_byte_before: { kind: 'float', min: 0, nullable: true },
  bits_per_byte_unhealed: { kind: 'float', min: 0, nullable: true },
  bits_per_byte_healed: { kind: 'float', min: 0, nullable: true },
  latency_ms_p50_before: { kind: 'float', min: 0, nullable: true },
  latency_ms_p50_after: { kind: 'float', min: 0, nullable: true },
  file_size_bytes_before: uint64,
  file_size_bytes_after: uint64,
  parameters_before: uint64,
  parameters_after: uint64,
};

/** The `pruning_runs` row for one pruning_run_completed event (003_pruning_runs.sql). */
export function pruningRunRow(e: pruningV1.PruningRunCompleted, receivedAtMs: number): CheckedRow {
  return checkRow(pruningRunValues(e), pruningRunChecks, receivedAtMs);
}

function pruningRunValues(e: pruningV1.PruningRunCompleted): Record<string, unknown> {
  const r = e.result;
  const after = r?.afterHealed ?? r?.afterUnhealed;
  return {
    completed_at: e.completedAtMs,
    job_id: e.jobId,
    source_model: r?.sourceModel?.name ?? '',
    source_version: r?.sourceModel?.version ?? '',
    pruned_model: r?.prunedModel?.name ?? '',
    pruned_version: r?.prunedModel?.version ?? '',
    start_layer: r?.removedBlock?.startLayer ?? 0,
    block_size: r?.removedBlock?.blockSize ?? 0,
    distance: r?.removedBlock?.distance ?? null,
    healing: pruningV1
      .healingMethodToJSON(r?.healing?.method ?? 0)
      .replace('HEALING_METHOD_', '')
      .toLowerCase(),
    healing_placement:
      r?.healing?.method === pruningV1.HealingMethod.HEALING_METHOD_LINEAR_LEAST_SQUARES
        ? pruningV1.healingPlacementToJSON(r.healing.placement).replace('HEALING_PLACEMENT_', '').toLowerCase()
        : '',
    ridge_alpha: r?.healing?.ridgeAlpha ?? 0,
    layers_before: r?.before?.layerCount ?? 0,
    layers_after: after?.layerCount ?? 0,
    bits_per_byte_before: r?.before?.bitsPerByte ?? null,
    bits_per_byte_unhealed: r?.afterUnhealed?.bitsPerByte ?? null,
    bits_per_byte_healed: r?.afterHealed?.bitsPerByte ?? null,
    latency_ms_p50_before: r?.before?.latencyMsP50 ?? null,
    latency_ms_p50_after: after?.latencyMsP50 ?? null,
    file_size_bytes_before: r?.before?.fileSizeBytes ?? 0,
    file_size_bytes_after: after?.fileSizeBytes ?? 0,
    parameters_before: r?.before?.parameterCount ?? 0,
    parameters_after: after?.parameterCount ?? 0,
    analysis_job_id: r?.analysisJobId ?? '',
  };
}
