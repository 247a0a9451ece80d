import { pruningV1 } from '@sift/contracts';
import { FileJobStore } from '@sift/jobs';

export { isTerminal, type RunRecord } from '@sift/jobs';

/**
 * Pruning jobs as files under `<root>/<job id>/`, shared by the service's replicas. A redelivered job
 * starts again from the beginning (`completedStages` of its run record is not used yet).
 */
export class JobStore extends FileJobStore<pruningV1.Job> {
  constructor(root: string) {
    super(root, pruningV1.Job, 'pruning');
  }
}
