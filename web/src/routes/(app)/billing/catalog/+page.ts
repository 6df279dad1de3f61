import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchProducts } from '$lib/services/billing-service';
import { fetchClusters } from '$lib/services/proxmox-service';

export const load: PageLoad = async ({ fetch, url, parent }) => {
  await parent();
  try {
    const [products, clusters] = await Promise.all([
      fetchProducts(fetch, { includeInactive: session.can('catalog.manage') }),
      session.can('proxmox.read') ? fetchClusters(fetch) : Promise.resolve({ items: [] }),
    ]);
    return { products: products.items, clusters: clusters.items };
  } catch (err) {
    failLoad(err, url);
  }
};
