import type { Logger } from './logger.js';
import { SiftError } from './sift-error.js';

/**
 * Runs `stop` once on SIGTERM or SIGINT (Kubernetes sends SIGTERM, then SIGKILL after its grace period),
 * then exits. The same signal a second time exits at once; the other one does not (Ctrl-C sends SIGINT to
 * every process of the terminal's group, and a launcher then stops its children with SIGTERM).
 */
export function onShutdownSignal(logger: Logger, stop: () => Promise<void>): void {
  let first: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (first === signal) {
      logger.warn('second signal; exiting now', { signal });
      process.exit(1);
    }
    if (first) {
      // Ctrl-C reaches every process of the terminal's group, and a launcher then sends SIGTERM to stop its
      // children in order: that is the same request, and draining goes on.
      logger.info('already shutting down; send the same signal again to exit now', { signal, first });
      return;
    }
    first = signal;
    logger.info('shutting down', { signal });
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * For a deployable's main: runs `start`, or logs why the process cannot start (an unreachable NATS, a model
 * store without the default model) and exits with status 1, without a stack trace for the errors the
 * services raise on purpose.
 */
export async function startOrExit<T>(logger: Logger, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof SiftError) logger.error(`cannot start: ${err.message}`);
    else logger.error('cannot start', { err });
    process.exit(1);
  }
}
