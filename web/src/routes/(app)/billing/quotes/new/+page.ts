import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCustomers, fetchProducts } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [customers, products] = await Promise.all([fetchCustomers(fetch), fetchProducts(fetch)]);
    return { customers: customers.items, products: products.items, customerId: url.searchParams.get('customer') ?? undefined };
  } catch (err) {
    failLoad(err, url);
  }
};
