import type { Permission } from '@keelson/common/permissions';
import { writeAudit, type Database, type Executor } from '@keelson/db';
import { apiKeys } from '@keelson/db/schema';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { forgetApiKeys } from '../auth/api-key-cache';
import { generateApiKey } from '../auth/api-keys';
import type { Principal, RequestMeta } from '../context';
import { ForbiddenError, NotFoundError } from '../errors';
import { auditActor } from './audit-service';

/** The columns anyone may see; never the secret's hash. */
const publicColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  expiresAt: apiKeys.expiresAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
  createdAt: apiKeys.createdAt,
};

export async function listApiKeys(db: Executor, tenantId: string) {
  return db.select(publicColumns).from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

/**
 * Creates a key whose scopes are a subset of the creator's own permissions. At each request the
 * key acts with its scopes ∩ its creator's permissions as they are then (see `verifyApiKey`), so
 * it can never do more than the person behind it. Returns the full key, which is not stored.
 */
export async function createApiKey(
  db: Database,
  principal: Principal,
  meta: RequestMeta,
  input: { name: string; scopes: Permission[]; expiresAt: Date | null },
) {
  const scopes = [...new Set(input.scopes)].sort();
  const beyond = scopes.filter((s) => !principal.permissions.has(s));
  if (beyond.length) throw new ForbiddenError(`cannot grant scopes you do not hold: ${beyond.join(', ')}`);
  // A key made by a key belongs to the person behind it, and is bounded by their rights.
  const owner = principal.onBehalfOf ?? principal.userId;
  if (!owner) throw new ForbiddenError('API keys are created by a person or by one of their keys');

  const generated = generateApiKey();
  return db.transaction(async (tx) => {
    const [record] = await tx
      .insert(apiKeys)
      .values({
        tenantId: principal.tenantId,
        name: input.name,
        prefix: generated.prefix,
        secretHash: generated.secretHash,
        scopes,
        createdBy: owner,
        expiresAt: input.expiresAt,
      })
      .returning(publicColumns);
    await writeAudit(tx, {
      ...auditActor(principal, meta),
      action: 'apikey.create',
      resourceType: 'api_key',
      resourceId: record!.id,
      details: { name: input.name, prefix: generated.prefix, scopes, expiresAt: input.expiresAt?.toISOString() ?? null },
    });
    return { key: generated.key, record: record! };
  });
}

/** Revokes a key of the caller's tenant; revoking it again changes nothing. */
export async function revokeApiKey(db: Database, principal: Principal, meta: RequestMeta, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.tenantId, principal.tenantId), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id, name: apiKeys.name, prefix: apiKeys.prefix });
    if (!revoked) {
      const [existing] = await tx
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(eq(apiKeys.id, id), eq(apiKeys.tenantId, principal.tenantId)));
      if (!existing) throw new NotFoundError('API key');
      return;
    }
    await writeAudit(tx, {
      ...auditActor(principal, meta),
      action: 'apikey.revoke',
      resourceType: 'api_key',
      resourceId: revoked.id,
      details: { name: revoked.name, prefix: revoked.prefix },
    });
  });
  forgetApiKeys(db);
}

/** Revokes every live key a person made in the organization (when they leave it). Returns how many. */
export async function revokeKeysOf(tx: Executor, tenantId: string, userId: string): Promise<number> {
  const revoked = await tx
    .update(apiKeys)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.createdBy, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return revoked.length;
}
