import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Cuts a long synchronous computation into slices: between slices the event loop gets a turn, so RPCs,
 * deadline timers, health checks and heartbeats are served while it runs. Use as
 * `if (slicer.due()) await slicer.pause();` inside the loop; `due()` costs one clock read.
 */
export class TimeSlicer {
  private sliceStarted = performance.now();

  constructor(private readonly maxSliceMs: number) {}

  /** Whether the current slice has run for `maxSliceMs`. */
  due(): boolean {
    return performance.now() - this.sliceStarted >= this.maxSliceMs;
  }

  /** Gives the event loop one turn and starts a new slice. */
  async pause(): Promise<void> {
    await nextTurn();
    this.sliceStarted = performance.now();
  }
}
