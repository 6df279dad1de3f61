/**
 * The audit page's filters in its URL, and the `datetime-local` inputs that edit its time range
 * (local wall time in the inputs, ISO 8601 in UTC in the URL and for the API).
 *
 * Pure and free of SvelteKit imports, so Node tests run it.
 */
import type { AuditEntry } from '../../api/types';
import type { AuditFilters } from '../../services/audit-service';

const KEYS = ['actor', 'action', 'resourceType', 'resourceId', 'from', 'to'] as const;

/** `/audit?action=…`: empty filters left out, in a stable order. */
export function auditHref(filters: AuditFilters): string {
  const q = new URLSearchParams();
  for (const k of KEYS) {
    const v = filters[k]?.trim();
    if (v) q.set(k, v);
  }
  const qs = q.toString();
  return `/audit${qs ? `?${qs}` : ''}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2025-03-04T09:05` in this browser's time zone, for a `datetime-local` input; '' for nothing. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (local wall time) as ISO 8601 in UTC; undefined for nothing. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value); // no offset: JavaScript reads it as local time
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The filter that finds everything one actor did (`user:<id>`, `api_key:<id>`); null without an id. */
export const actorFilter = (e: Pick<AuditEntry, 'actorType' | 'actorId'>) => (e.actorId ? `${e.actorType}:${e.actorId}` : null);
