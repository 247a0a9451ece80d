import { readFile } from 'node:fs/promises';
import type { pruningV1 } from '@sift/contracts';
import { SiftError } from '@sift/kit';
import type { JobUpstream } from './job-upstream.js';

/**
 * GET /v1/pruning/jobs/{id}/heatmap.png: the PNG heatmap of a finished analysis (l*(n) outlined) or pruning
 * (the removed block outlined; none when the start layer was given). The service writes it into its job
 * folder; the gateway reads it from there, so both must see the same volume (as replicas of the service
 * already must).
 */
export async function pruningHeatmap(
  pruning: JobUpstream<pruningV1.Job>,
  jobId: string,
  timeoutMs: number,
): Promise<Buffer> {
  const job = await pruning.job(jobId, timeoutMs);
  const path = job?.result?.value.heatmapPath ?? '';
  if (!path) {
    throw new SiftError(
      'failed_precondition',
      `job ${jobId} has no heatmap: only finished analyses, and prunings whose block came from distances, have one`,
    );
  }
  return readFile(path).catch((err: unknown) => {
    throw new SiftError('unavailable', `heatmap of job ${jobId} is not readable from the gateway (${path})`, {
      cause: err,
    });
  });
}
