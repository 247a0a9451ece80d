import type { FinishedCall, Logger } from '@sift/kit';
import type { Bus } from './bus.js';
import { subjects } from './subjects.js';

/**
 * An `onCallFinished` hook that publishes each finished call as a request_completed event. Publishing is
 * fire-and-forget: a slow or absent NATS never delays or fails the call it describes; failures are logged.
 */
export function publishRequestMetrics(bus: Bus, logger: Logger): (call: FinishedCall) => void {
  return (call) => {
    bus
      .publish(subjects.requestCompleted, {
        service: call.service,
        method: call.method,
        status: call.status,
        latencyMs: call.latencyMs,
        batchSize: call.batchSize,
        model: call.model,
        finishedAtMs: Date.now(),
      })
      .catch((err: unknown) => logger.warn('request metric not published', { err, method: call.method }));
  };
}
