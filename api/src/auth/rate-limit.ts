import type { Executor } from '@keelson/db';
import { rateLimits } from '@keelson/db/schema';
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import { createHash } from 'node:crypto';

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
 * Each process keeps its own windows; the API's sign-in routes use {@link PostgresLimiter}
 * instead, so that N API processes share one limit.
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

/** What the login and second-factor routes need from a limiter. */
export interface FailureLimiter {
  /** Seconds until the key may try again, or null if it is under its limit. */
  blockedFor(key: string, limit: RateLimit): Promise<number | null>;
  /** Counts one failure against the key. */
  fail(key: string, limit: RateLimit): Promise<void>;
  /** Forgets the key's failures, e.g. after a successful attempt. */
  reset(key: string): Promise<void>;
}

/**
 * The same fixed windows, kept in Postgres, so every API process behind a load balancer counts
 * against one limit (`rate_limits`). A failure is one upsert; the key is stored hashed. Expired
 * windows are deleted now and then by the failures themselves.
 */
export class PostgresLimiter implements FailureLimiter {
  private failures = 0;

  constructor(private readonly db: Executor) {}

  private hash(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }

  async blockedFor(key: string, limit: RateLimit): Promise<number | null> {
    const [row] = await this.db
      .select({ count: rateLimits.count, resetAt: rateLimits.resetAt })
      .from(rateLimits)
      .where(and(eq(rateLimits.key, this.hash(key)), gt(rateLimits.resetAt, sql`now()`)));
    if (!row || row.count < limit.max) return null;
    return Math.max(1, Math.ceil((row.resetAt.getTime() - Date.now()) / 1000));
  }

  async fail(key: string, limit: RateLimit): Promise<void> {
    const window = sql`now() + ${`${limit.windowMs} milliseconds`}::interval`;
    await this.db
      .insert(rateLimits)
      .values({ key: this.hash(key), count: 1, resetAt: window })
      .onConflictDoUpdate({
        target: rateLimits.key,
        set: {
          count: sql`case when ${rateLimits.resetAt} <= now() then 1 else ${rateLimits.count} + 1 end`,
          resetAt: sql`case when ${rateLimits.resetAt} <= now() then ${window} else ${rateLimits.resetAt} end`,
        },
      });
    if (++this.failures % 100 === 0) await this.db.delete(rateLimits).where(lt(rateLimits.resetAt, sql`now()`));
  }

  async reset(key: string): Promise<void> {
    await this.db.delete(rateLimits).where(eq(rateLimits.key, this.hash(key)));
  }
}
