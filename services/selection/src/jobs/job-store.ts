import { selectionV1 } from '@sift/contracts';
import { FileJobStore } from '@sift/jobs';

export { isTerminal, type RunRecord } from '@sift/jobs';

/** Selection jobs as files under `<root>/<job id>/`, shared by the service's replicas. */
export class JobStore extends FileJobStore<selectionV1.Job> {
  constructor(root: string) {
    super(root, selectionV1.Job, 'selection');
  }
}
