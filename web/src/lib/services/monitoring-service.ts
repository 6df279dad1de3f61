import { request, type Fetch } from '$lib/api/request';
import type {
  Alert,
  AlertDetail,
  AlertRule,
  AlertRuleInput,
  MaintenanceWindow,
  MaintenanceWindowInput,
  MetricSeries,
  MonitoredKind,
  MonitoredResource,
  MonitoringOverview,
  Silence,
  SilenceInput,
  SeriesRange,
} from '$lib/api/monitoring-types';

/** The points of the resource standing for a Keelson record (a guest's, a container's, a node's, an app's). */
export const fetchSeriesByRef = (fetch: Fetch, kind: MonitoredKind, refId: string, range: SeriesRange, signal?: AbortSignal) =>
  request<MetricSeries>(fetch, '/monitoring/series', { query: { kind, refId, range }, signal });

export const fetchOverview = (fetch: Fetch, signal?: AbortSignal) => request<MonitoringOverview>(fetch, '/monitoring/overview', { signal });

export const fetchAlerts = (fetch: Fetch, query: { state?: string; ruleId?: string; resourceId?: string; firedOnly?: boolean; limit?: number } = {}, signal?: AbortSignal) =>
  request<{ items: Alert[] }>(fetch, '/monitoring/alerts', {
    query: { ...query, firedOnly: query.firedOnly === undefined ? undefined : String(query.firedOnly), limit: query.limit === undefined ? undefined : String(query.limit) },
    signal,
  });

export const fetchAlert = (fetch: Fetch, id: string, signal?: AbortSignal) => request<AlertDetail>(fetch, `/monitoring/alerts/${encodeURIComponent(id)}`, { signal });

export const acknowledgeAlert = (fetch: Fetch, id: string, comment: string) =>
  request<AlertDetail>(fetch, `/monitoring/alerts/${encodeURIComponent(id)}/acknowledge`, { method: 'POST', body: { comment } });

export const fetchRules = (fetch: Fetch, signal?: AbortSignal) => request<{ items: AlertRule[] }>(fetch, '/monitoring/rules', { signal });

export const fetchSilences = (fetch: Fetch, signal?: AbortSignal) => request<{ items: Silence[] }>(fetch, '/monitoring/silences', { signal });

export const expireSilence = (fetch: Fetch, id: string) => request<void>(fetch, `/monitoring/silences/${encodeURIComponent(id)}`, { method: 'DELETE' });

export const fetchResources = (fetch: Fetch, query: { kind?: MonitoredKind } = {}, signal?: AbortSignal) => request<{ items: MonitoredResource[] }>(fetch, '/monitoring/resources', { query, signal });

export const createRule = (fetch: Fetch, body: AlertRuleInput) => request<AlertRule>(fetch, '/monitoring/rules', { method: 'POST', body });
/** Replaces the rule; a `webhookSecret` left out keeps the stored one. */
export const updateRule = (fetch: Fetch, id: string, body: AlertRuleInput) => request<AlertRule>(fetch, `/monitoring/rules/${encodeURIComponent(id)}`, { method: 'PUT', body });
export const deleteRule = (fetch: Fetch, id: string) => request<void>(fetch, `/monitoring/rules/${encodeURIComponent(id)}`, { method: 'DELETE' });

export const createSilence = (fetch: Fetch, body: SilenceInput) => request<Silence>(fetch, '/monitoring/silences', { method: 'POST', body });
export const updateSilence = (fetch: Fetch, id: string, body: SilenceInput) => request<Silence>(fetch, `/monitoring/silences/${encodeURIComponent(id)}`, { method: 'PUT', body });

export const fetchWindows = (fetch: Fetch, signal?: AbortSignal) => request<{ items: MaintenanceWindow[] }>(fetch, '/monitoring/maintenance-windows', { signal });
export const createWindow = (fetch: Fetch, body: MaintenanceWindowInput) => request<MaintenanceWindow>(fetch, '/monitoring/maintenance-windows', { method: 'POST', body });
export const updateWindow = (fetch: Fetch, id: string, body: MaintenanceWindowInput) =>
  request<MaintenanceWindow>(fetch, `/monitoring/maintenance-windows/${encodeURIComponent(id)}`, { method: 'PUT', body });
export const deleteWindow = (fetch: Fetch, id: string) => request<void>(fetch, `/monitoring/maintenance-windows/${encodeURIComponent(id)}`, { method: 'DELETE' });
