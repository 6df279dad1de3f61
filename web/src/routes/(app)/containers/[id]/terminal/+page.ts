import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { request } from '$lib/api/request';
import type { Container } from '$lib/api/types';

/** Re-read when a terminal session ends (the container may have stopped). */
const CONTAINER_TERMINAL_DEPENDENCY = 'keelson:container-terminal';
const SHELLS = new Set(['sh', 'bash', 'ash']);

export const load: PageLoad = async ({ fetch, params, url, depends }) => {
  depends(CONTAINER_TERMINAL_DEPENDENCY);
  const shell = url.searchParams.get('shell') ?? undefined;
  try {
    const container = await request<Container>(fetch, `/containers/${encodeURIComponent(params.id)}`);
    return { container, shell: shell && SHELLS.has(shell) ? shell : undefined, dependency: CONTAINER_TERMINAL_DEPENDENCY };
  } catch (err) {
    failLoad(err, url);
  }
};
