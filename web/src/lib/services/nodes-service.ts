import { request, type Fetch } from '$lib/api/request';
import type { NodeList } from '$lib/api/types';

export const fetchNodes = (fetch: Fetch, signal?: AbortSignal) => request<NodeList>(fetch, '/nodes', { signal });
