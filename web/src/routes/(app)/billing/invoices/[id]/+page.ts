import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCustomer, fetchInvoice, fetchInvoiceDunning } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params }) => {
  try {
    const [invoice, dunning] = await Promise.all([fetchInvoice(fetch, params.id), fetchInvoiceDunning(fetch, params.id)]);
    // The customer's zone: the days of a billing period are theirs.
    const customer = await fetchCustomer(fetch, invoice.customerId);
    return { invoice, dunning, timeZone: customer.timeZone };
  } catch (err) {
    failLoad(err, url);
  }
};
