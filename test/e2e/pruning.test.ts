import { describe } from 'vitest';
import { analysesPrunesAndHeals, landsPruningRunInClickHouse } from './pruning/analyse-prune-heal.js';
import { prunesGraphAnalysedModel } from './pruning/graph-analysis.js';
import { cancelsQueuedPruningAndRunningAnalysis, finishesAnalysisAfterWorkerKilled } from './pruning/job-lifecycle.js';
import { boundsFailedJobError, failsOnOneHugeLine, rejectsBadRequests } from './pruning/refusals.js';
import { prunesCachedModel, prunesExternalDataModel, prunesTokenizedModel } from './pruning/tokenized-model.js';
import { PruningSuite } from './src/pruning-suite.js';

/**
 * A model engineer prunes the byte-level decoder through the real platform: analysis of the layers on
 * calibration text, then removal of the least useful layer with least-squares healing, stored as a new
 * version in a COPY of the model store (the repository's models/ is never written).
 *
 * One platform for all the tests, which pruning/ holds by concern, in this order: the huge-line test checks
 * that one worker ran so far (the kill test starts another), and the last test reads the one pruning of
 * byte-gpt in ClickHouse and stops the platform.
 */
describe('pruning end to end', () => {
  const suite = new PruningSuite();

  rejectsBadRequests(suite);
  failsOnOneHugeLine(suite);
  boundsFailedJobError(suite);
  prunesGraphAnalysedModel(suite);
  prunesTokenizedModel(suite);
  prunesCachedModel(suite, 'bpe-gpt-with-past', 6);
  prunesCachedModel(suite, 'llama-mini', 4);
  prunesExternalDataModel(suite);
  analysesPrunesAndHeals(suite);
  finishesAnalysisAfterWorkerKilled(suite);
  cancelsQueuedPruningAndRunningAnalysis(suite);
  landsPruningRunInClickHouse(suite);
});
