import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchStack, TERRAFORM_DEPENDENCY } from '$lib/services/terraform-service';

export const load: PageLoad = async ({ fetch, params, url, depends }) => {
  depends(TERRAFORM_DEPENDENCY);
  try {
    return { stack: await fetchStack(fetch, params.id) };
  } catch (err) {
    failLoad(err, url);
  }
};
