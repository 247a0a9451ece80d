import { selectionV1 } from '@sift/contracts';
import { FileJobStore } from '@sift/jobs';

export { isTerminal } from '@sift/jobs';

/**
 * Characters of a job's error that its record keeps (and ListJobs answers): enough for any message of
 * ours with its echoed values, while a page of 500 jobs stays far below the gRPC message limit.
 */
export const maxJobErrorChars = 2000;

/** Selection jobs as files under `<root>/<job id>/`, shared by the service's replicas. */
export class JobStore extends FileJobStore<selectionV1.Job> {
  constructor(root: string) {
    super(root, selectionV1.Job, 'selection');
  }
}
