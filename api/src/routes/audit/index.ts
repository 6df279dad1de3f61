import { createRouter } from '../../router';
import { listAuditRoute } from './list';

/** /api/audit: read-only; rows are written by each mutation's own service. */
export function auditRoutes() {
  return createRouter().route('/', listAuditRoute());
}

export type AuditRoutes = ReturnType<typeof auditRoutes>;
