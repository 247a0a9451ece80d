import { subjects } from '@sift/bus';
import { pruningV1 } from '@sift/contracts';
import { FileJobStore, type JobEvents } from '@sift/jobs';

/**
 * Pruning jobs as files under `<root>/<job id>/`, shared by the service's replicas. A redelivered job
 * continues after its last finished stage from the checkpoints in its folder (`JobCheckpoints`).
 */
export class JobStore extends FileJobStore<pruningV1.Job> {
  constructor(root: string) {
    super(root, pruningV1.Job, 'pruning');
  }
}

/** What the pruning service publishes about its jobs; job_finished carries a succeeded analysis's result. */
export const pruningJobEvents: JobEvents<pruningV1.Job, pruningV1.JobFinished> = {
  progressed: subjects.pruningJobProgressed,
  finished: subjects.pruningJobFinished,
  finishedMessage: (job) => ({
    status: job.status,
    analysisResult: job.result?.$case === 'analysisResult' ? job.result.value : undefined,
  }),
};
