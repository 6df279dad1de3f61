import { request, type Fetch } from '$lib/api/request';
import type { Items, KeelsonNode } from '$lib/api/types';

export const fetchNodes = (fetch: Fetch, signal?: AbortSignal) => request<Items<KeelsonNode>>(fetch, '/nodes', { signal });
