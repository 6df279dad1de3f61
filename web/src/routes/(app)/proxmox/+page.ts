import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchClusters, fetchGuests } from '$lib/services/proxmox-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [clusters, guests] = await Promise.all([fetchClusters(fetch), fetchGuests(fetch)]);
    return { clusters: clusters.items, guests: guests.items };
  } catch (err) {
    failLoad(err, url);
  }
};
