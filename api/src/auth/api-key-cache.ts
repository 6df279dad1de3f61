import pg from 'pg';
import { loadApiKey, type ApiKeyRow } from './api-keys';
import type { Database, Executor } from '@keelson/db';

/**
 * The channel on which Postgres announces every change that can narrow or end an API key: a
 * statement-level trigger on `api_keys` (revocation, expiry, scopes, creator) and on `memberships`
 * (a creator demoted or removed, a tenant or user deleted) notifies it in the changing
 * transaction, so the notice arrives when, and only if, that transaction commits
 * (db/migrations `credentials_changed`).
 */
export const CREDENTIALS_CHANNEL = 'keelson_credentials';

/**
 * How long a looked-up key may be reused without reading Postgres again, at most. Every notice
 * on {@link CREDENTIALS_CHANNEL} empties the cache before that, so this bound only matters if a
 * notice never arrives while the listening connection still looks alive.
 */
export const API_KEY_CACHE_TTL_MS = 10_000;

/** Pause before listening again after the listening connection failed (lookups read Postgres meanwhile). */
const RELISTEN_AFTER_MS = 1_000;

interface Entry {
  row: ApiKeyRow;
  at: number;
}

/**
 * One per API process and database: API keys by prefix, as `loadApiKey` read them (the key row
 * and its creator's current role), so that a hot key costs no query per request.
 *
 * Entries are only kept while this process LISTENs on {@link CREDENTIALS_CHANNEL}: any notice, a
 * lost connection or {@link forget} empties the cache, and a lookup that was in flight while
 * that happened is not stored (it may have read the state from before the change). The secret,
 * the expiry and the creator's membership are still checked on every request, from the entry.
 *
 * So a revoked key, or one whose creator was demoted or removed, is refused by the process that
 * made the change from its next request on (the service calls {@link forget} after committing),
 * and by every other API process as soon as Postgres delivers the notice to it (milliseconds on
 * one network), and after {@link API_KEY_CACHE_TTL_MS} at the very latest.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  /** Reads of Postgres in flight, by prefix, with the generation they started in. */
  private readonly reading = new Map<string, { generation: number; row: Promise<ApiKeyRow | null> }>();
  /** Bumped by every invalidation; a lookup stores its result only if it did not change meanwhile. */
  private generation = 0;
  private client: pg.Client | null = null;
  private listening = false;
  private connecting: Promise<void> | null = null;
  private retryAt = 0;
  private closed = false;
  /** Lookups answered from memory, from Postgres, and by joining a read of Postgres in flight. */
  readonly stats = { hits: 0, misses: 0, shared: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key row for `prefix`, from the cache while it is valid, else from `db`. */
  async lookup(db: Executor, prefix: string): Promise<ApiKeyRow | null> {
    if (!this.listening) void this.listen();
    const hit = this.entries.get(prefix);
    if (hit && this.listening && this.now() - hit.at < API_KEY_CACHE_TTL_MS) {
      this.stats.hits++;
      return hit.row;
    }
    // Requests that miss together share one read (an entry's expiry under load would otherwise
    // send every request in flight to Postgres at once) — but only a read that started after
    // the last change announced: a request never gets a row read before a change it could know of.
    const pending = this.reading.get(prefix);
    if (pending && pending.generation === this.generation) {
      this.stats.shared++;
      return pending.row;
    }
    this.stats.misses++;
    const generation = this.generation;
    const wasListening = this.listening;
    const row = loadApiKey(db, prefix).then((found) => {
      // Only what was read while listening, with no change announced since, may be kept.
      if (found && wasListening && this.listening && generation === this.generation) this.entries.set(prefix, { row: found, at: this.now() });
      return found;
    });
    const read = { generation, row };
    this.reading.set(prefix, read);
    return row.finally(() => {
      if (this.reading.get(prefix) === read) this.reading.delete(prefix);
    });
  }

  /** Drops every entry; the next lookup of each key reads Postgres. */
  forget(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Whether entries are being kept (the LISTEN connection is up). */
  get active(): boolean {
    return this.listening;
  }

  /** Starts listening (if not already); resolves once listening or once the attempt failed. */
  listen(): Promise<void> {
    if (this.listening || this.closed) return Promise.resolve();
    if (this.connecting) return this.connecting;
    if (this.now() < this.retryAt) return Promise.resolve();
    this.connecting = (async () => {
      // A connection of its own, outside the pool, so that listening never takes a query's place.
      const client = new pg.Client(this.pool.options);
      const lost = () => this.lose(client);
      client.on('notification', () => this.forget());
      client.on('error', lost);
      client.on('end', lost);
      try {
        await client.connect();
        await client.query(`LISTEN ${CREDENTIALS_CHANNEL}`);
        if (this.closed) throw new Error('closed');
        // Whatever changed before LISTEN took effect may be cached already: start clean.
        this.forget();
        this.client = client;
        this.listening = true;
      } catch {
        this.retryAt = this.now() + RELISTEN_AFTER_MS;
        client.removeAllListeners();
        client.on('error', () => {});
        await client.end().catch(() => {});
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  private lose(client: pg.Client) {
    if (this.client !== client) return;
    this.client = null;
    this.listening = false;
    this.forget();
    this.retryAt = this.now() + RELISTEN_AFTER_MS;
    client.removeAllListeners();
    client.on('error', () => {});
    void client.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    const client = this.client;
    this.client = null;
    this.listening = false;
    this.forget();
    if (!client) return;
    client.removeAllListeners();
    client.on('error', () => {});
    await client.end().catch(() => {});
  }
}

const caches = new WeakMap<object, ApiKeyCache>();

/** The key cache of an API process's database, created on first use (it listens on `pool`). */
export function apiKeyCache({ db, pool }: { db: Database; pool: pg.Pool }): ApiKeyCache {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new ApiKeyCache(pool)));
  return cache;
}

/**
 * Called by services after they committed a change to keys or memberships, so that this process
 * refuses from its very next request on (other processes learn it from the notice).
 */
export function forgetApiKeys(db: Database): void {
  caches.get(db)?.forget();
}

/** Stops listening and forgets (at shutdown). */
export async function closeApiKeyCache(db: Database): Promise<void> {
  await caches.get(db)?.close();
}
