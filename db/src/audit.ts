import { auditLog } from '../schema/index';
import type { Executor } from './client';

export interface AuditEntry {
  tenantId: string;
  actorType: 'user' | 'api_key' | 'webhook' | 'system';
  actorId: string | null;
  action: string;
  resourceType: string;
  resourceId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, unknown>;
}

/** Call inside the transaction of the mutation it records. */
export async function writeAudit(tx: Executor, entry: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({ ...entry, details: entry.details ?? {} });
}
