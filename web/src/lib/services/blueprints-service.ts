import { request, type Fetch } from '$lib/api/request';
import type { Blueprint, BlueprintInput, BlueprintList } from '$lib/api/types';

export const fetchBlueprints = (fetch: Fetch, signal?: AbortSignal) => request<BlueprintList>(fetch, '/blueprints', { signal });

export const fetchBlueprint = (fetch: Fetch, id: string) => request<Blueprint>(fetch, `/blueprints/${encodeURIComponent(id)}`);

export type { BlueprintInput };

/** `env` is write-only: the API answers with `envKeys`. On update it replaces every variable. */
export const createBlueprint = (fetch: Fetch, input: BlueprintInput) => request<Blueprint>(fetch, '/blueprints', { method: 'POST', body: input });

/** Replaces the whole blueprint (env included); existing containers keep their snapshot. */
export const updateBlueprint = (fetch: Fetch, id: string, input: BlueprintInput) =>
  request<Blueprint>(fetch, `/blueprints/${encodeURIComponent(id)}`, { method: 'PUT', body: input });

export const deleteBlueprint = (fetch: Fetch, id: string) => request<void>(fetch, `/blueprints/${encodeURIComponent(id)}`, { method: 'DELETE' });
