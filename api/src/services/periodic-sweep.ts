/**
 * A sweep an API process repeats in the background: once at once (what a dead process left behind
 * is picked up when the next one starts), then every `everyMs`, doubling the wait while sweeps
 * fail (at most `maxBackoffMs`), and stopped on shutdown after the sweep in progress. Sweeps never
 * overlap: one asked for while another runs starts when that one ends.
 */
export interface PeriodicSweep<T> {
  /** Sweeps now (tests, and a process that just started). */
  sweep(): Promise<T>;
  stop(): Promise<void>;
}

export function startPeriodicSweep<T>(
  run: () => Promise<T>,
  opts: { everyMs: number; maxBackoffMs: number; onSwept?: (result: T) => void; onError?: (err: unknown) => void },
): PeriodicSweep<T> {
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<unknown> = Promise.resolve();
  const sweep = (): Promise<T> => {
    const next = current.catch(() => undefined).then(run);
    current = next;
    return next;
  };
  const tick = async () => {
    try {
      // Not `onSwept?.(await sweep())`: without an onSwept that would skip the sweep itself.
      const result = await sweep();
      opts.onSwept?.(result);
      failures = 0;
    } catch (err) {
      failures++;
      opts.onError?.(err);
    }
    if (!stopped) timer = setTimeout(tick, Math.min(opts.everyMs * 2 ** failures, opts.maxBackoffMs));
  };
  timer = setTimeout(tick, 0);
  return {
    sweep,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
