import { subjects } from '@sift/bus';
import { selectionV1 } from '@sift/contracts';
import { FileJobStore, type JobEvents } from '@sift/jobs';

export { maxJobErrorChars } from '@sift/jobs';

/** Selection jobs as files under `<root>/<job id>/`, shared by the service's replicas. */
export class JobStore extends FileJobStore<selectionV1.Job> {
  constructor(root: string) {
    super(root, selectionV1.Job, 'selection');
  }
}

/** What the selection service publishes about its jobs; job_finished carries the report of a succeeded one. */
export const selectionJobEvents: JobEvents<selectionV1.Job, selectionV1.JobFinished> = {
  progressed: subjects.selectionJobProgressed,
  finished: subjects.selectionJobFinished,
  finishedMessage: (job) => ({ status: job.status, report: job.report }),
};
