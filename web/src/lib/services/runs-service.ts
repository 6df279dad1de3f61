import { apiUrl, request, type Fetch } from '$lib/api/request';
import type { Accepted, ApprovalDecision, OperationCatalog, RetriedRun, RunDetail, RunList, StartedRun } from '$lib/api/types';

export interface RunFilters {
  status?: string;
  operation?: string;
  resource?: string;
  /** Started at or after / before these instants (ISO 8601). */
  from?: string;
  to?: string;
  pageToken?: string;
  pageSize?: number;
}

/** The filters the runs list keeps in its URL. */
export function runFiltersFromUrl(params: URLSearchParams): RunFilters {
  const get = (k: string) => params.get(k)?.trim() || undefined;
  return {
    status: get('status'),
    operation: get('operation'),
    resource: get('resource'),
    from: get('from'),
    to: get('to'),
    pageToken: get('pageToken'),
  };
}

/** The path of a run (`/runs/<encoded id>`): the id contains slashes, so it is one encoded segment. */
const runPath = (workflowId: string) => `/runs/${encodeURIComponent(workflowId)}`;

export const fetchRuns = (fetch: Fetch, filters: RunFilters, signal?: AbortSignal) =>
  request<RunList>(fetch, '/runs', { query: { ...filters }, signal });

/** What a run page's load depends on: `invalidate(RUN_DEPENDENCY)` reloads the run. */
export const RUN_DEPENDENCY = 'keelson:run';

export const fetchRun = (fetch: Fetch, workflowId: string) => request<RunDetail>(fetch, runPath(workflowId));

/** The run's live stream (Server-Sent Events); follow it with `createRunStream`. */
export const runStreamUrl = (workflowId: string) => apiUrl(`${runPath(workflowId)}/stream`);

export const cancelRun = (fetch: Fetch, workflowId: string) => request<Accepted>(fetch, `${runPath(workflowId)}/cancel`, { method: 'POST' });

export const terminateRun = (fetch: Fetch, workflowId: string, reason: string) =>
  request<Accepted>(fetch, `${runPath(workflowId)}/terminate`, { method: 'POST', body: { reason } });

/** Retries a failed run from the step that failed: a new run of the same workflow id. */
export const retryRun = (fetch: Fetch, workflowId: string) =>
  request<RetriedRun>(fetch, `${runPath(workflowId)}/retry`, { method: 'POST' });

/** Answers the approval the run waits for; the API records the signed-in user as who decided. */
export const decideApproval = (fetch: Fetch, workflowId: string, decision: 'approve' | 'reject', comment: string) =>
  request<ApprovalDecision>(fetch, `${runPath(workflowId)}/approval`, { method: 'POST', body: { decision, ...(comment.trim() ? { comment } : {}) } });

/** A new run of the same operation with the same input, under a new workflow id. */
export const rerunRun = (fetch: Fetch, workflowId: string) => request<StartedRun>(fetch, `${runPath(workflowId)}/rerun`, { method: 'POST' });

export const fetchOperations = (fetch: Fetch) => request<OperationCatalog>(fetch, '/runs/operations');

export const startRun = (fetch: Fetch, operation: string, input: Record<string, unknown>) =>
  request<StartedRun>(fetch, '/runs', { method: 'POST', body: { operation, input } });
