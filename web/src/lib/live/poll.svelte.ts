import { backoffDelay } from './event-stream';

export interface PollOptions {
  /** Between successful refreshes. */
  intervalMs?: number;
  /** Failures back off from `intervalMs`, doubling up to this. */
  maxIntervalMs?: number;
  /** Called with each failure (after the state is updated), e.g. to catch a 401. */
  onError?: (error: unknown) => void;
}

/**
 * Refreshes something every few seconds while the page is visible: paused in a background tab,
 * refreshed at once when it comes back, backing off on failures, stopped on teardown (call it
 * during component setup). `task` gets a signal that aborts on teardown.
 */
export function createPoll(task: (signal: AbortSignal) => Promise<void>, options: PollOptions = {}) {
  const intervalMs = options.intervalMs ?? 5000;
  const maxIntervalMs = options.maxIntervalMs ?? 60_000;
  const state = $state({ error: null as unknown, refreshing: false, lastRefreshAt: null as number | null });
  let runNow: () => void = () => {};

  $effect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let running = false;

    const schedule = () => {
      clearTimeout(timer);
      const delay = failures === 0 ? intervalMs : backoffDelay(failures, { initialMs: intervalMs, maxMs: maxIntervalMs });
      timer = setTimeout(run, delay);
    };
    const run = async () => {
      clearTimeout(timer);
      // Hidden: wait for `visibilitychange` rather than refresh what nobody sees.
      if (controller.signal.aborted || running || document.visibilityState === 'hidden') return;
      running = true;
      state.refreshing = true;
      try {
        await task(controller.signal);
        failures = 0;
        state.error = null;
        state.lastRefreshAt = Date.now();
      } catch (err) {
        if (controller.signal.aborted) return;
        failures++;
        state.error = err;
        options.onError?.(err);
      } finally {
        running = false;
        state.refreshing = false;
      }
      if (!controller.signal.aborted) schedule();
    };
    const onVisibility = () => {
      if (document.visibilityState === 'visible') void run();
    };
    runNow = () => void run();
    document.addEventListener('visibilitychange', onVisibility);
    schedule();
    return () => {
      controller.abort();
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
      runNow = () => {};
    };
  });

  return {
    get error() {
      return state.error;
    },
    get refreshing() {
      return state.refreshing;
    },
    get lastRefreshAt() {
      return state.lastRefreshAt;
    },
    /** Refresh now (after an action), then go on with the usual interval. */
    refresh() {
      runNow();
    },
  };
}
