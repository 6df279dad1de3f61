import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchRun, RUN_DEPENDENCY } from '$lib/services/runs-service';

/** Workflow ids contain slashes (`container/<id>/create`): the rest parameter keeps them. */
export const load: PageLoad = async ({ fetch, params, url, depends }) => {
  depends(RUN_DEPENDENCY);
  try {
    return { run: await fetchRun(fetch, params.workflowId) };
  } catch (err) {
    failLoad(err, url);
  }
};
