import type { AuditEntry, Executor } from '@keelson/db';
import { auditLog } from '@keelson/db/schema';
import { and, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import type { Principal, RequestMeta } from '../context';

/** Who did it and from where: the part of every audit row that comes from the request. */
export type AuditActor = Pick<AuditEntry, 'tenantId' | 'actorType' | 'actorId' | 'ip' | 'userAgent'>;

export function auditActor(principal: Principal, meta: RequestMeta): AuditActor {
  return {
    tenantId: principal.tenantId,
    actorType: principal.actorType,
    actorId: principal.actorId,
    ip: meta.ip,
    userAgent: meta.userAgent,
  };
}

export interface AuditFilter {
  /** `user:<id>`, `apikey:<id>` (as in Principal.actor) or a bare actor id. */
  actor?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Rows with a smaller id than this (the previous page's nextCursor). */
  cursor?: number;
  limit: number;
}

const ACTOR_TYPES_BY_PREFIX: Record<string, AuditEntry['actorType']> = {
  user: 'user',
  apikey: 'api_key',
  api_key: 'api_key',
  webhook: 'webhook',
  system: 'system',
};

/** A page of the tenant's audit log, newest first. */
export async function listAuditEntries(db: Executor, tenantId: string, filter: AuditFilter) {
  const where: SQL[] = [eq(auditLog.tenantId, tenantId)];
  if (filter.actor) {
    const idx = filter.actor.indexOf(':');
    const actorType = idx > 0 ? ACTOR_TYPES_BY_PREFIX[filter.actor.slice(0, idx)] : undefined;
    if (actorType) where.push(eq(auditLog.actorType, actorType), eq(auditLog.actorId, filter.actor.slice(idx + 1)));
    else where.push(eq(auditLog.actorId, filter.actor));
  }
  if (filter.action) where.push(eq(auditLog.action, filter.action));
  if (filter.resourceType) where.push(eq(auditLog.resourceType, filter.resourceType));
  if (filter.resourceId) where.push(eq(auditLog.resourceId, filter.resourceId));
  if (filter.from) where.push(gte(auditLog.createdAt, filter.from));
  if (filter.to) where.push(lt(auditLog.createdAt, filter.to));
  if (filter.cursor !== undefined) where.push(lt(auditLog.id, filter.cursor));

  // One extra row tells whether another page exists.
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(filter.limit + 1);
  const items = rows.slice(0, filter.limit);
  const nextCursor = rows.length > filter.limit ? items[items.length - 1]!.id : null;
  return { items, nextCursor };
}
