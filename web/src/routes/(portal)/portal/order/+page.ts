import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchProducts } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { products: (await fetchProducts(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
