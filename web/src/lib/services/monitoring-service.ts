import { request, type Fetch } from '$lib/api/request';
import type { Alert, AlertDetail, AlertRule, MetricSeries, MonitoredKind, MonitoringOverview, Silence, SeriesRange } from '$lib/api/monitoring-types';

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
