import { request, type Fetch } from '$lib/api/request';
import type { ContainerAction, ContainerCreated, ContainerList, StartedRun } from '$lib/api/types';

export const fetchContainers = (fetch: Fetch, signal?: AbortSignal) => request<ContainerList>(fetch, '/containers', { signal });

/** Records the container and starts its `container.create` run. */
export const createContainer = (fetch: Fetch, input: { name: string; nodeId: string; blueprintId: string }) =>
  request<ContainerCreated>(fetch, '/containers', { method: 'POST', body: input });

/** Starts a start/stop/restart run. */
export const runContainerAction = (fetch: Fetch, id: string, action: ContainerAction) =>
  request<StartedRun>(fetch, `/containers/${encodeURIComponent(id)}/actions`, { method: 'POST', body: { action } });

/** Starts a `container.remove` run. */
export const removeContainer = (fetch: Fetch, id: string) => request<StartedRun>(fetch, `/containers/${encodeURIComponent(id)}`, { method: 'DELETE' });
