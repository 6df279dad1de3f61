import { connectDb, type DbHandle } from '@keelson/db';
import { apiKeys, memberships } from '@keelson/db/schema';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../../test/platform';
import { createApp } from '../app';
import { API_KEY_CACHE_TTL_MS, apiKeyCache, closeApiKeyCache } from './api-key-cache';

/**
 * The API key cache, seen from a second API process (its own pool and cache on the same
 * database): a hot key costs no query, and every change that narrows or ends a key reaches it
 * through Postgres's notice, not by waiting for the entry to expire.
 */
describe('API key cache', () => {
  let platform: TestPlatform;
  let other: DbHandle;
  let otherApp: ReturnType<typeof createApp>;
  let tenantId: string;

  beforeAll(async () => {
    platform = await createTestPlatform();
    tenantId = (await platform.createTenant()).id;
    other = connectDb(platform.dbUrl, { max: 2 });
    otherApp = createApp({ ...platform.deps, db: other.db, pool: other.pool });
    await apiKeyCache(other).listen();
  });
  afterAll(async () => {
    await closeApiKeyCache(other.db);
    await other.close();
    await platform.close();
  });

  const me = (key: string) => otherApp.request('/api/auth/me', { headers: { authorization: `Bearer ${key}` } });
  const prefixOf = (key: string) => key.split('_')[1]!;

  /** Polls (up to half the cache's lifetime, so an expiry cannot pass for a notice) until `done`. */
  async function within(what: string, done: () => Promise<boolean>) {
    const until = Date.now() + API_KEY_CACHE_TTL_MS / 2;
    while (!(await done())) {
      if (Date.now() > until) throw new Error(`not within ${API_KEY_CACHE_TTL_MS / 2} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Uses the key until it is answered from memory (a notice of an earlier change may empty the cache once). */
  async function cached(key: string) {
    await within('the key is served from memory', async () => {
      const { hits } = apiKeyCache(other).stats;
      expect((await me(key)).status).toBe(200);
      return apiKeyCache(other).stats.hits > hits;
    });
  }

  it('answers a hot key from memory, and refuses it once it is revoked elsewhere', async () => {
    const key = await platform.createApiKey({ tenantId, scopes: ['workflow.read'] });
    await cached(key);
    // Revoked in SQL, as another process (or a person at psql) would: only the notice tells.
    await platform.db.update(apiKeys).set({ revokedAt: sql`now()` }).where(eq(apiKeys.prefix, prefixOf(key)));
    await within('the revoked key is refused', async () => (await me(key)).status === 401);
  });

  it('reads Postgres once for requests that miss together, as when an entry expires under load', async () => {
    const key = await platform.createApiKey({ tenantId, scopes: ['workflow.read'] });
    const before = { ...apiKeyCache(other).stats };
    const answers = await Promise.all(Array.from({ length: 50 }, () => me(key)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    const { misses, shared, hits } = apiKeyCache(other).stats;
    // One read (two if a notice of an earlier test's change lands in between); the rest joined it.
    expect(misses - before.misses).toBeLessThanOrEqual(2);
    expect(misses - before.misses + shared - before.shared + hits - before.hits).toBe(50);
  });

  it('narrows a cached key when its creator is demoted, and refuses it when they leave', async () => {
    const key = await platform.createApiKey({ tenantId, scopes: ['workflow.read', 'workflow.start'] });
    await cached(key);
    const [row] = await platform.db.select({ createdBy: apiKeys.createdBy }).from(apiKeys).where(eq(apiKeys.prefix, prefixOf(key)));
    const creator = eq(memberships.userId, row!.createdBy!);
    const permissions = async () => ((await (await me(key)).json()) as { permissions: string[] }).permissions;
    expect(await permissions()).toContain('workflow.start');

    await platform.db.update(memberships).set({ role: 'viewer' }).where(creator);
    await within('the demotion narrows the key', async () => !(await permissions()).includes('workflow.start'));
    await platform.db.delete(memberships).where(creator);
    await within('the removal ends the key', async () => (await me(key)).status === 401);
  });

  it('keeps nothing while it cannot hear the notices', async () => {
    const key = await platform.createApiKey({ tenantId, scopes: ['workflow.read'] });
    await cached(key);
    await platform.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = 'LISTEN keelson_credentials' and pid <> pg_backend_pid()`,
    );
    await within('the cache notices the lost connection', async () => !apiKeyCache(other).active);
    await platform.db.update(apiKeys).set({ revokedAt: sql`now()` }).where(eq(apiKeys.prefix, prefixOf(key)));
    expect((await me(key)).status).toBe(401);
  });
});
