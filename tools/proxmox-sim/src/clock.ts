/**
 * Simulated durations. Every operation has a realistic duration in milliseconds (a clone takes
 * seconds); the time scale shrinks them all, so tests run the same sequences in a fraction of
 * the time. Changing the scale affects waits that start afterwards.
 */
export class Clock {
  constructor(public timeScale: number) {
    assertTimeScale(timeScale);
  }

  scaled(ms: number): number {
    return Math.max(0, Math.round(ms * this.timeScale));
  }

  /** Waits `ms` simulated milliseconds; resolves early (with false) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      }, this.scaled(ms));
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export function assertTimeScale(value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new Error(`timeScale must be a finite number >= 0, got ${value}`);
}
