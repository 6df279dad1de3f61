import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchRun } from '$lib/services/runs-service';
import { fetchStack, fetchStackRun, TERRAFORM_DEPENDENCY } from '$lib/services/terraform-service';

export const load: PageLoad = async ({ fetch, params, url, depends }) => {
  depends(TERRAFORM_DEPENDENCY);
  try {
    const run = await fetchStackRun(fetch, params.id);
    const [stack, detail] = await Promise.all([fetchStack(fetch, run.stackId), fetchRun(fetch, run.workflowId)]);
    return { run, stack, detail };
  } catch (err) {
    failLoad(err, url);
  }
};
