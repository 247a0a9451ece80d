import { describe } from 'vitest';
import { landsDecisionsInClickHouse } from './selection/clickhouse-decisions.js';
import {
  embedsOverlongRecords,
  failsEmptyResultUnlessAllowed,
  removesPlantedSemanticDuplicates,
  setsAsideUnreadableRecords,
} from './selection/embedding-space.js';
import {
  answersStreamDecisions,
  cancelsQueuedAndRunningJobs,
  finishesAfterWorkerKilled,
  reportsUpstreamHealth,
  resumesFailedJob,
  servesAfterServiceRestart,
} from './selection/job-lifecycle.js';
import {
  dedupsSourceFilesIncrementally,
  keepsLongMinhashStageWithItsWorker,
  publishesLongIdDecisions,
  skipsInvalidRecordsWhenAsked,
} from './selection/lexical-dedup.js';
import {
  boundsRequestsAndErrors,
  failsKBeyondRecords,
  guardsIndexesAndOutputFolders,
  rejectsBadPipeline,
  tellsMalformedFromUnknownJobIds,
} from './selection/refusals.js';
import { keepsQualityFilteredDocuments, prunesCodeByLengthAndScip } from './selection/scip-and-text-quality.js';
import { SelectionSuite } from './src/selection-suite.js';

/**
 * A data engineer's selection job through the real platform: NATS work queue, embedding service,
 * selection worker, metrics consumer on embedded ClickHouse, HTTP gateway.
 *
 * One platform for all the tests, which selection/ holds by concern, in this order: later tests read what
 * earlier ones wrote (news.jsonl, out-1), the cancel test needs the one worker to itself, and the last test
 * counts every job's decisions in ClickHouse and stops the platform.
 */
describe('selection job end to end', () => {
  const suite = new SelectionSuite();

  removesPlantedSemanticDuplicates(suite);
  resumesFailedJob(suite);
  reportsUpstreamHealth(suite);
  rejectsBadPipeline(suite);
  publishesLongIdDecisions(suite);
  embedsOverlongRecords(suite);
  setsAsideUnreadableRecords(suite);
  failsKBeyondRecords(suite);
  cancelsQueuedAndRunningJobs(suite);
  answersStreamDecisions(suite);
  guardsIndexesAndOutputFolders(suite);
  boundsRequestsAndErrors(suite);
  failsEmptyResultUnlessAllowed(suite);
  tellsMalformedFromUnknownJobIds(suite);
  finishesAfterWorkerKilled(suite);
  servesAfterServiceRestart(suite);
  prunesCodeByLengthAndScip(suite);
  dedupsSourceFilesIncrementally(suite);
  keepsQualityFilteredDocuments(suite);
  keepsLongMinhashStageWithItsWorker(suite);
  skipsInvalidRecordsWhenAsked(suite);
  landsDecisionsInClickHouse(suite);
});
