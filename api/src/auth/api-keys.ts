import { ROLE_PERMISSIONS, type Permission, type Role } from '@keelson/common/permissions';
import type { Executor } from '@keelson/db';
import { apiKeys, customerUsers, memberships } from '@keelson/db/schema';
import { and, eq, sql } from 'drizzle-orm';
import { generateToken, hashToken, safeEqual } from './tokens';

/** API keys look like `kls_<prefix>_<secret>`; only the prefix and the secret's hash are stored. */
export const API_KEY_PATTERN = /^kls_([a-z0-9]{10})_([a-z0-9]{32})$/;

export function generateApiKey(): { key: string; prefix: string; secretHash: string } {
  const prefix = generateToken(10).slice(0, 10);
  const secret = generateToken(20);
  return { key: `kls_${prefix}_${secret}`, prefix, secretHash: hashToken(secret) };
}

export interface ApiKeyContext {
  id: string;
  tenantId: string;
  name: string;
  /** What the key was granted. */
  scopes: Permission[];
  /** The person who made it; the key never does more than they may do now. */
  createdBy: string;
  /** The creator's role in the key's organization at the time of this request. */
  creatorRole: Role;
  /** The customer the creator acts for, when the creator has the `customer` role. */
  creatorCustomerId: string | null;
  /** scopes ∩ the creator's current permissions: what this request may do. */
  permissions: ReadonlySet<Permission>;
}

/** A key's row with its creator's current role in the key's organization (null: not a member). */
export interface ApiKeyRow {
  key: typeof apiKeys.$inferSelect;
  creatorRole: Role | null;
  /** The customer the creator acts for (customer role), if any. */
  creatorCustomerId: string | null;
}

/** The key with this prefix and its creator's membership, in one indexed query; null if none. */
export async function loadApiKey(db: Executor, prefix: string): Promise<ApiKeyRow | null> {
  const [row] = await db
    .select({ key: apiKeys, creatorRole: memberships.role, creatorCustomerId: customerUsers.customerId })
    .from(apiKeys)
    .leftJoin(memberships, and(eq(memberships.tenantId, apiKeys.tenantId), eq(memberships.userId, apiKeys.createdBy)))
    .leftJoin(customerUsers, and(eq(customerUsers.tenantId, apiKeys.tenantId), eq(customerUsers.userId, apiKeys.createdBy)))
    .where(eq(apiKeys.prefix, prefix));
  return row ?? null;
}

/** Per-process memory of when this process last recorded a key's use (`last_used_at`). */
const touched = new Map<string, number>();

/**
 * Verifies a presented key; null for malformed, unknown, wrong, revoked or expired keys, and for
 * keys whose creator is no longer a member of the key's organization.
 *
 * The key is looked up by prefix joined to its creator's membership in the key's organization
 * (`load`, by default one query; the API passes its cache, `api-key-cache.ts`). A key acts with
 * its scopes ∩ the creator's permissions as they are now, so a demotion narrows every key the
 * person made at once, and a removal (which also revokes them) ends them. The cache may answer
 * from memory only while it hears every change to keys and memberships
 * (docs/decisions/0015-api-keys-follow-their-creator.md, 0020-api-start-path.md).
 */
export async function verifyApiKey(
  db: Executor,
  presented: string,
  load: (db: Executor, prefix: string) => Promise<ApiKeyRow | null> = loadApiKey,
): Promise<ApiKeyContext | null> {
  const match = API_KEY_PATTERN.exec(presented);
  if (!match) return null;
  const [, prefix, secret] = match as unknown as [string, string, string];
  const row = await load(db, prefix);
  if (!row || !safeEqual(row.key.secretHash, hashToken(secret))) return null;
  const key = row.key;
  if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= Date.now())) return null;
  if (!key.createdBy || !row.creatorRole) return null;
  // At most once a minute per key and process, so hot keys do not write on every request.
  const last = Math.max(key.lastUsedAt?.getTime() ?? 0, touched.get(key.id) ?? 0);
  if (Date.now() - last > 60_000) {
    touched.set(key.id, Date.now());
    await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, key.id));
  }
  const held = ROLE_PERMISSIONS[row.creatorRole];
  const scopes = key.scopes as Permission[];
  return {
    id: key.id,
    tenantId: key.tenantId,
    name: key.name,
    scopes,
    createdBy: key.createdBy,
    creatorRole: row.creatorRole,
    creatorCustomerId: row.creatorCustomerId,
    permissions: new Set(scopes.filter((scope) => held.has(scope))),
  };
}
