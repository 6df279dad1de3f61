/** How many failures a key may have in one window. Read per call, so config can change at runtime. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_RATE_LIMIT: RateLimit = { max: 10, windowMs: 15 * 60_000 };

interface Window {
  count: number;
  resetAt: number;
}

/**
 * A fixed-window counter of failures per key, kept in memory.
 *
 * Each API process keeps its own windows, so behind a load balancer with N instances an attacker
 * gets up to N × max attempts per window. That still bounds online guessing; a shared store
 * (a Postgres table or Redis) is the step up if that bound is too loose.
 */
export class FixedWindowLimiter {
  private readonly windows = new Map<string, Window>();

  /** @param maxKeys bound on memory when many keys are tried; expired and then oldest windows go first. */
  constructor(private readonly maxKeys = 50_000) {}

  /** Seconds until the key may try again, or null if it is under its limit. */
  blockedFor(key: string, limit: RateLimit, now = Date.now()): number | null {
    const window = this.current(key, now);
    if (!window || window.count < limit.max) return null;
    return Math.max(1, Math.ceil((window.resetAt - now) / 1000));
  }

  /** Counts one failure against the key. */
  fail(key: string, limit: RateLimit, now = Date.now()): void {
    const window = this.current(key, now);
    if (window) {
      window.count += 1;
      return;
    }
    if (this.windows.size >= this.maxKeys) this.evict(now);
    this.windows.set(key, { count: 1, resetAt: now + limit.windowMs });
  }

  /** Forgets the key's failures, e.g. after a successful attempt. */
  reset(key: string): void {
    this.windows.delete(key);
  }

  private current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window && window.resetAt <= now) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private evict(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    // Still full: drop the oldest windows (a Map iterates in insertion order).
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
