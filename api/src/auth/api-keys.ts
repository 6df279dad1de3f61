import type { Permission } from '@keelson/common/permissions';
import type { Executor } from '@keelson/db';
import { apiKeys } from '@keelson/db/schema';
import { eq, sql } from 'drizzle-orm';
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
  scopes: Permission[];
}

/** Verifies a presented key; null for malformed, unknown, wrong, revoked or expired keys. */
export async function verifyApiKey(db: Executor, presented: string): Promise<ApiKeyContext | null> {
  const match = API_KEY_PATTERN.exec(presented);
  if (!match) return null;
  const [, prefix, secret] = match as unknown as [string, string, string];
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix));
  if (!row || !safeEqual(row.secretHash, hashToken(secret))) return null;
  if (row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return null;
  // Best effort, at most once a minute per key, so hot keys do not write on every request.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, row.id));
  }
  return { id: row.id, tenantId: row.tenantId, name: row.name, scopes: row.scopes as Permission[] };
}
