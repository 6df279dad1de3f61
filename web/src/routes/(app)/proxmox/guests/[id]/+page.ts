import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchRuns } from '$lib/services/runs-service';
import { fetchClusters, fetchGuest } from '$lib/services/proxmox-service';

export const load: PageLoad = async ({ fetch, params, url }) => {
  try {
    const [guest, clusters, runs] = await Promise.all([
      fetchGuest(fetch, params.id),
      fetchClusters(fetch),
      // The guest's runs; a key without workflow.read still sees the guest.
      fetchRuns(fetch, { resource: `guest:${params.id}`, pageSize: 20 }).catch(() => ({ items: [] })),
    ]);
    return { guest, clusters: clusters.items, runs: runs.items };
  } catch (err) {
    failLoad(err, url);
  }
};
