import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchCatalogClusters, fetchProducts } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, parent }) => {
  await parent();
  try {
    const [products, clusters] = await Promise.all([
      fetchProducts(fetch, { includeInactive: session.can('catalog.manage') }),
      // Only those who write plans pick a cluster; a billing manager cannot read Proxmox itself.
      session.can('catalog.manage') ? fetchCatalogClusters(fetch) : Promise.resolve({ items: [] }),
    ]);
    return { products: products.items, clusters: clusters.items };
  } catch (err) {
    failLoad(err, url);
  }
};
