import { request, type Fetch } from '$lib/api/request';
import type { Blueprint, Items } from '$lib/api/types';

export const fetchBlueprints = (fetch: Fetch, signal?: AbortSignal) => request<Items<Blueprint>>(fetch, '/blueprints', { signal });

export interface BlueprintInput {
  name: string;
  description?: string;
  image: string;
  command?: string[];
  ports?: Array<{ container: number; host: number; protocol?: 'tcp' | 'udp' }>;
  volumes?: Array<{ source: string; target: string; readOnly?: boolean }>;
  env?: Record<string, string>;
  cpuLimit?: number | null;
  memoryLimitMb?: number | null;
}

export const createBlueprint = (fetch: Fetch, input: BlueprintInput) => request<Blueprint>(fetch, '/blueprints', { method: 'POST', body: input });
