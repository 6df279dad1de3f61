import { request, type Fetch } from '$lib/api/request';
import type { ApiKeyList, CreateApiKeyInput, CreatedApiKey } from '$lib/api/types';

/** Every key of the organization, newest first, revoked and expired ones included (never secrets). */
export const fetchApiKeys = (fetch: Fetch, signal?: AbortSignal) => request<ApiKeyList>(fetch, '/api-keys', { signal });

export type { CreateApiKeyInput };

/** Each scope must be one the creator holds; leave the expiry out for a key that does not expire. */
/** The answer's `key` is the full secret: the API never shows it again. */
export const createApiKey = (fetch: Fetch, input: CreateApiKeyInput) => request<CreatedApiKey>(fetch, '/api-keys', { method: 'POST', body: input });

/** It stops working at once; revoking a revoked key is fine. */
export const revokeApiKey = (fetch: Fetch, id: string) => request<void>(fetch, `/api-keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
