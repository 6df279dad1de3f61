import { request, type Fetch } from '$lib/api/request';
import type { AuditPage } from '$lib/api/types';

export interface AuditFilters {
  /** `user:<id>`, `apikey:<id>`, or a bare actor id. */
  actor?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  /** ISO 8601 with an offset: entries at or after it. */
  from?: string;
  /** ISO 8601 with an offset: entries before it. */
  to?: string;
}

export const AUDIT_FILTER_KEYS = ['actor', 'action', 'resourceType', 'resourceId', 'from', 'to'] as const satisfies ReadonlyArray<keyof AuditFilters>;

/** The filters the audit page keeps in its URL. */
export function auditFiltersFromUrl(params: URLSearchParams): AuditFilters {
  const filters: AuditFilters = {};
  for (const key of AUDIT_FILTER_KEYS) {
    const v = params.get(key)?.trim();
    if (v) filters[key] = v;
  }
  return filters;
}

/** One page, newest first; pass the previous page's `nextCursor` as `cursor` for the next. */
export const fetchAuditPage = (fetch: Fetch, filters: AuditFilters, cursor?: string, signal?: AbortSignal) =>
  request<AuditPage>(fetch, '/audit', { query: { ...filters, cursor, limit: 50 }, signal });
