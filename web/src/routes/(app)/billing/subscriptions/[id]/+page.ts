import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchInvoices, fetchSubscription } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params }) => {
  try {
    const [subscription, invoices] = await Promise.all([fetchSubscription(fetch, params.id), fetchInvoices(fetch, { subscriptionId: params.id })]);
    return { subscription, invoices: invoices.items };
  } catch (err) {
    failLoad(err, url);
  }
};
