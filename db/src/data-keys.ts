import { decryptSecret, encryptSecret, type DataKeys, type KeyRing } from '@keelson/common/codec';
import { and, desc, eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Executor } from './client';
import { organizationKeys } from '../schema/security';

/** How long a process uses the active version it read before it reads it again (a rotation takes effect after it). */
const ACTIVE_TTL_MS = 60_000;

export type PostgresDataKeys = DataKeys & { rotate(tenantId: string): Promise<number> };

/**
 * Organizations' data keys in Postgres (`organization_keys`), sealed under the key ring. Versions
 * never change once written, so opened keys are cached for the life of the process; the active
 * version is re-read every minute. The first payload of an organization makes its key (two
 * processes racing insert the same version once: the loser reads the winner's).
 *
 * Rotation: `rotateDataKey` adds a version that new payloads use; older versions keep opening
 * older payloads. Rotating the ring (a new KEELSON_ENCRYPTION_KEYS entry first) keeps working: a
 * data key sealed under an older ring key is re-sealed under the active one when it is first read.
 *
 * Once an organization's active version is known, `active` never waits on the database: an
 * expired entry is answered at once and re-read in the background. A payload is often sealed
 * while its caller holds a transaction open (a record and its run's start commit together); on a
 * single-session Postgres (PGlite, `npm run up`'s default) a lookup on another connection would
 * wait for that very transaction. `warm` is how a caller makes sure the version is known before
 * it opens one.
 */
export function createPostgresDataKeys(db: Executor, ring: KeyRing, opts: { activeTtlMs?: number } = {}): PostgresDataKeys & { warm(tenantId: string): Promise<void> } {
  const ttlMs = opts.activeTtlMs ?? ACTIVE_TTL_MS;
  const opened = new Map<string, Buffer>();
  const active = new Map<string, { version: number; at: number }>();
  const refreshing = new Map<string, Promise<number>>();

  async function load(tenantId: string, version: number): Promise<Buffer | null> {
    const cacheKey = `${tenantId}:${version}`;
    const cached = opened.get(cacheKey);
    if (cached) return cached;
    const [row] = await db
      .select({ keySealed: organizationKeys.keySealed })
      .from(organizationKeys)
      .where(and(eq(organizationKeys.tenantId, tenantId), eq(organizationKeys.version, version)));
    if (!row) return null;
    const key = Buffer.from(decryptSecret(ring, row.keySealed), 'base64');
    if (!row.keySealed.startsWith(`v1.${ring.activeKeyId}.`)) {
      await db
        .update(organizationKeys)
        .set({ keySealed: encryptSecret(ring, key.toString('base64')) })
        .where(and(eq(organizationKeys.tenantId, tenantId), eq(organizationKeys.version, version)));
    }
    opened.set(cacheKey, key);
    return key;
  }

  async function newest(tenantId: string): Promise<number | null> {
    const [row] = await db
      .select({ version: organizationKeys.version })
      .from(organizationKeys)
      .where(eq(organizationKeys.tenantId, tenantId))
      .orderBy(desc(organizationKeys.version))
      .limit(1);
    return row?.version ?? null;
  }

  async function create(tenantId: string, version: number): Promise<void> {
    await db
      .insert(organizationKeys)
      .values({ tenantId, version, keySealed: encryptSecret(ring, randomBytes(32).toString('base64')) })
      .onConflictDoNothing();
  }

  /** Reads the active version (making version 1 on first use) and its key; one read per organization at a time. */
  function refresh(tenantId: string): Promise<number> {
    let pending = refreshing.get(tenantId);
    if (!pending) {
      pending = (async () => {
        let version = await newest(tenantId);
        if (version === null) {
          await create(tenantId, 1);
          version = (await newest(tenantId))!;
        }
        await load(tenantId, version);
        active.set(tenantId, { version, at: Date.now() });
        return version;
      })().finally(() => refreshing.delete(tenantId));
      refreshing.set(tenantId, pending);
    }
    return pending;
  }

  return {
    async active(tenantId) {
      const known = active.get(tenantId);
      if (!known) {
        const version = await refresh(tenantId);
        return { version, key: (await load(tenantId, version))! };
      }
      if (Date.now() - known.at >= ttlMs) refresh(tenantId).catch(() => undefined); // read again after this answer; a failure keeps the known version
      return { version: known.version, key: (await load(tenantId, known.version))! };
    },
    get: load,
    async warm(tenantId) {
      if (!active.has(tenantId)) await refresh(tenantId);
    },
    /** Adds the organization's next data key version; returns it. */
    async rotate(tenantId) {
      const next = ((await newest(tenantId)) ?? 0) + 1;
      await create(tenantId, next);
      await load(tenantId, next);
      active.set(tenantId, { version: next, at: Date.now() });
      return next;
    },
  };
}

const stores = new WeakMap<Executor, WeakMap<KeyRing, ReturnType<typeof createPostgresDataKeys>>>();

/**
 * The process's data key store for this database and key ring: one per pair, so the API's Temporal
 * client, its own codec and its request handling share what they have read (and what `warm` did).
 */
export function dataKeysFor(db: Executor, ring: KeyRing): ReturnType<typeof createPostgresDataKeys> {
  let byRing = stores.get(db);
  if (!byRing) stores.set(db, (byRing = new WeakMap()));
  let store = byRing.get(ring);
  if (!store) byRing.set(ring, (store = createPostgresDataKeys(db, ring)));
  return store;
}
