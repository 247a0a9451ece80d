import { selectionV1 } from '@sift/contracts';
import { type DropReason, keptScoreOf, type PipelineState } from './state.js';

const reasonCode: Record<DropReason, selectionV1.DecisionReason> = {
  'exact-duplicate': selectionV1.DecisionReason.DECISION_REASON_EXACT_DUPLICATE,
  'near-duplicate': selectionV1.DecisionReason.DECISION_REASON_NEAR_DUPLICATE,
  'indexed-duplicate': selectionV1.DecisionReason.DECISION_REASON_INDEXED_DUPLICATE,
  'semantic-duplicate': selectionV1.DecisionReason.DECISION_REASON_SEMANTIC_DUPLICATE,
  prototypical: selectionV1.DecisionReason.DECISION_REASON_PROTOTYPICAL,
  'too-hard': selectionV1.DecisionReason.DECISION_REASON_TOO_HARD,
  'density-quota': selectionV1.DecisionReason.DECISION_REASON_DENSITY_QUOTA,
  'small-cluster': selectionV1.DecisionReason.DECISION_REASON_SMALL_CLUSTER,
  'far-from-centroid': selectionV1.DecisionReason.DECISION_REASON_FAR_FROM_CENTROID,
  'long-file': selectionV1.DecisionReason.DECISION_REASON_LONG_FILE,
  'low-quality': selectionV1.DecisionReason.DECISION_REASON_LOW_QUALITY,
  unreadable: selectionV1.DecisionReason.DECISION_REASON_UNREADABLE,
  'invalid-record': selectionV1.DecisionReason.DECISION_REASON_INVALID_RECORD,
};

/** The final decision of record i: kept, or the stage and reason that dropped it. */
export function decisionOf(state: PipelineState, i: number): selectionV1.RecordDecision {
  const d = state.drops.get(i);
  const cluster = state.clustering && (state.clustering.labels[i] ?? -1) >= 0 ? state.clustering.labels[i] : undefined;
  if (!d) {
    // A kept record's stage is the pipeline's last one (the contract's RecordDecision.stage).
    const last = (state.stageFacts.at(-1) as { summary?: { stage?: string } } | undefined)?.summary?.stage ?? '';
    const scored = keptScoreOf(state, i);
    return {
      recordId: state.ids[i] ?? '',
      kept: true,
      stage: last,
      reason: selectionV1.DecisionReason.DECISION_REASON_KEPT,
      duplicateOf: '',
      cluster,
      score: scored?.score,
      scoreStage: scored?.stage ?? '',
      detail: '',
    };
  }
  return {
    recordId: state.ids[i] ?? '',
    kept: false,
    stage: d.stage,
    reason: reasonCode[d.reason] ?? selectionV1.DecisionReason.DECISION_REASON_UNSPECIFIED,
    duplicateOf: d.duplicateOf === undefined ? (d.indexedDuplicateOf ?? '') : (state.ids[d.duplicateOf] ?? ''),
    cluster: d.cluster,
    score: d.score,
    scoreStage: d.score === undefined ? '' : d.stage,
    detail: d.detail ?? '',
  };
}

/**
 * An upper bound of a decision's encoded size inside a records_decided event, without encoding it (encoding
 * every decision only to measure it cost four times the publishing itself): its five strings with a tag
 * and a 5-byte length each, at most 23 bytes of kept, reason, cluster and score, and 6 of framing.
 */
export function decisionBytesBound(d: selectionV1.RecordDecision): number {
  const strings = [d.recordId, d.stage, d.duplicateOf, d.scoreStage, d.detail];
  return strings.reduce((sum, s) => sum + Buffer.byteLength(s) + 6, 0) + 23 + 6;
}
