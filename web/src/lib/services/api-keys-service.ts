import { request, type Fetch } from '$lib/api/request';
import type { ApiKey, CreatedApiKey, Items, Permission } from '$lib/api/types';

/** Every key of the organization, newest first, revoked and expired ones included (never secrets). */
export const fetchApiKeys = (fetch: Fetch, signal?: AbortSignal) => request<Items<ApiKey>>(fetch, '/api-keys', { signal });

export interface CreateApiKeyInput {
  name: string;
  /** Each must be one the creator holds. */
  scopes: Permission[];
  /** Leave out for a key that does not expire. */
  expiresInDays?: number;
}

/** The answer's `key` is the full secret: the API never shows it again. */
export const createApiKey = (fetch: Fetch, input: CreateApiKeyInput) => request<CreatedApiKey>(fetch, '/api-keys', { method: 'POST', body: input });

/** It stops working at once; revoking a revoked key is fine. */
export const revokeApiKey = (fetch: Fetch, id: string) => request<void>(fetch, `/api-keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
