import { type commonV1, pruningV1, selectionV1 } from '@sift/contracts';

/** The `requests` row for one request of a requests_completed event (column names as in 001_requests.sql). */
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
    http_status: e.httpStatus,
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
    score_stage: d.scoreStage,
  }));
}

/** A finite number, or null (ClickHouse JSON input has no NaN). */
const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

/** The `pruning_runs` row for one pruning_run_completed event (003_pruning_runs.sql). */
export function pruningRunRow(e: pruningV1.PruningRunCompleted): Record<string, unknown> {
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
    distance: finiteOrNull(r?.removedBlock?.distance),
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
    bits_per_byte_before: finiteOrNull(r?.before?.bitsPerByte) ?? 0,
    bits_per_byte_unhealed: finiteOrNull(r?.afterUnhealed?.bitsPerByte) ?? 0,
    bits_per_byte_healed: finiteOrNull(r?.afterHealed?.bitsPerByte),
    latency_ms_p50_before: r?.before?.latencyMsP50 ?? 0,
    latency_ms_p50_after: after?.latencyMsP50 ?? 0,
    file_size_bytes_before: r?.before?.fileSizeBytes ?? 0,
    file_size_bytes_after: after?.fileSizeBytes ?? 0,
    parameters_before: r?.before?.parameterCount ?? 0,
    parameters_after: after?.parameterCount ?? 0,
    analysis_job_id: r?.analysisJobId ?? '',
  };
}
