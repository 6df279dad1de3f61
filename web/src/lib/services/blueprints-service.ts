import { request, type Fetch } from '$lib/api/request';
import type { Blueprint, Items } from '$lib/api/types';

export const fetchBlueprints = (fetch: Fetch, signal?: AbortSignal) => request<Items<Blueprint>>(fetch, '/blueprints', { signal });

export const fetchBlueprint = (fetch: Fetch, id: string) => request<Blueprint>(fetch, `/blueprints/${encodeURIComponent(id)}`);

export interface BlueprintInput {
  name: string;
  description?: string;
  image: string;
  command?: string[];
  ports?: Array<{ container: number; host: number; protocol?: 'tcp' | 'udp' }>;
  volumes?: Array<{ source: string; target: string; readOnly?: boolean }>;
  /** Write-only: the API answers with `envKeys`. On update it replaces every variable. */
  env?: Record<string, string>;
  cpuLimit?: number | null;
  memoryLimitMb?: number | null;
}

export const createBlueprint = (fetch: Fetch, input: BlueprintInput) => request<Blueprint>(fetch, '/blueprints', { method: 'POST', body: input });

/** Replaces the whole blueprint (env included); existing containers keep their snapshot. */
export const updateBlueprint = (fetch: Fetch, id: string, input: BlueprintInput) =>
  request<Blueprint>(fetch, `/blueprints/${encodeURIComponent(id)}`, { method: 'PUT', body: input });

export const deleteBlueprint = (fetch: Fetch, id: string) => request<void>(fetch, `/blueprints/${encodeURIComponent(id)}`, { method: 'DELETE' });
