import { decryptSecret, encryptSecret, type DataKeys, type KeyRing } from '@keelson/common/codec';
import { and, desc, eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Executor } from './client';
import { organizationKeys } from '../schema/security';

/** How long a process keeps using the active version it read (a rotation takes effect after it). */
const ACTIVE_TTL_MS = 60_000;

/**
 * Organizations' data keys in Postgres (`organization_keys`), sealed under the key ring. Versions
 * never change once written, so opened keys are cached for the life of the process; the active
 * version is re-read every minute. The first payload of an organization makes its key (two
 * processes racing insert the same version once: the loser reads the winner's).
 *
 * Rotation: `rotateDataKey` adds a version that new payloads use; older versions keep opening
 * older payloads. Rotating the ring (a new KEELSON_ENCRYPTION_KEYS entry first) keeps working: a
 * data key sealed under an older ring key is re-sealed under the active one when it is first read.
 */
export function createPostgresDataKeys(db: Executor, ring: KeyRing): DataKeys & { rotate(tenantId: string): Promise<number> } {
  const opened = new Map<string, Buffer>();
  const active = new Map<string, { version: number; at: number }>();

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

  return {
    async active(tenantId) {
      const known = active.get(tenantId);
      let version = known && Date.now() - known.at < ACTIVE_TTL_MS ? known.version : await newest(tenantId);
      if (version === null) {
        await create(tenantId, 1);
        version = (await newest(tenantId))!;
      }
      active.set(tenantId, { version, at: Date.now() });
      return { version, key: (await load(tenantId, version))! };
    },
    get: load,
    /** Adds the organization's next data key version; returns it. */
    async rotate(tenantId) {
      const next = ((await newest(tenantId)) ?? 0) + 1;
      await create(tenantId, next);
      active.delete(tenantId);
      return next;
    },
  };
}
