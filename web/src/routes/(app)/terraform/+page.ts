import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchClusters } from '$lib/services/proxmox-service';
import { fetchStacks, TERRAFORM_DEPENDENCY } from '$lib/services/terraform-service';

export const load: PageLoad = async ({ fetch, url, depends }) => {
  depends(TERRAFORM_DEPENDENCY);
  try {
    // Clusters only fill the new-stack form's list: a role that cannot read them still sees the stacks.
    const [stacks, clusters] = await Promise.all([fetchStacks(fetch), fetchClusters(fetch).catch(() => ({ items: [] }))]);
    return { stacks: stacks.items, clusters: clusters.items };
  } catch (err) {
    failLoad(err, url);
  }
};
