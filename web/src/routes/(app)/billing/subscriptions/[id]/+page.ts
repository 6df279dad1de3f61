import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchInvoices, fetchProducts, fetchSubscription, fetchSuspensions } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params, parent }) => {
  await parent();
  try {
    const [subscription, invoices, products] = await Promise.all([
      fetchSubscription(fetch, params.id),
      fetchInvoices(fetch, { subscriptionId: params.id }),
      // The plans it can change to: only for those who may change it.
      session.can('billing.manage') ? fetchProducts(fetch) : Promise.resolve({ items: [] }),
    ]);
    // The service's suspension holds, when it has a service.
    const holds = subscription.resource ? (await fetchSuspensions(fetch, params.id)).items : [];
    return { subscription, invoices: invoices.items, products: products.items, holds };
  } catch (err) {
    failLoad(err, url);
  }
};
