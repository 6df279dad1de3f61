import { request, type Fetch } from '$lib/api/request';
import type { TerraformRun, TerraformStack, TerraformStackChanges, TerraformStackDetail, TerraformStackInput, TerraformStackList, TerraformStartedRun, TerraformStartRunInput } from '$lib/api/types';

const stackPath = (id: string) => `/terraform/stacks/${encodeURIComponent(id)}`;

/** Load functions depend on this; invalidate it to refetch a stack or run page. */
export const TERRAFORM_DEPENDENCY = 'keelson:terraform';

export const fetchStacks = (fetch: Fetch, signal?: AbortSignal) => request<TerraformStackList>(fetch, '/terraform/stacks', { signal });

export const fetchStack = (fetch: Fetch, id: string, signal?: AbortSignal) => request<TerraformStackDetail>(fetch, stackPath(id), { signal });

/** Secret variables are sealed at rest and never come back. */
export const createStack = (fetch: Fetch, input: TerraformStackInput) => request<TerraformStack>(fetch, '/terraform/stacks', { method: 'POST', body: input });

export const updateStack = (fetch: Fetch, id: string, changes: TerraformStackChanges) => request<TerraformStack>(fetch, stackPath(id), { method: 'PATCH', body: changes });

/** Plans (then waits for approval); a destroy needs the stack's name as `confirm`. */
export const startStackRun = (fetch: Fetch, id: string, input: TerraformStartRunInput) =>
  request<TerraformStartedRun>(fetch, `${stackPath(id)}/runs`, { method: 'POST', body: input });

export const checkDrift = (fetch: Fetch, id: string) => request<{ triggered: true }>(fetch, `${stackPath(id)}/drift-check`, { method: 'POST' });

export const fetchStackRun = (fetch: Fetch, runId: string, signal?: AbortSignal) => request<TerraformRun>(fetch, `/terraform/runs/${encodeURIComponent(runId)}`, { signal });

/** Runs in these states are over: nothing will change on their page. */
export const FINISHED_RUN_STATES = ['applied', 'no-changes', 'rejected', 'failed', 'canceled'];
