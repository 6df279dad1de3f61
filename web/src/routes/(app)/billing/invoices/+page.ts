import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import type { InvoiceStatus } from '$lib/api/types';
import { fetchCustomers, fetchInvoices } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  // The filters live in the address, so a filtered list can be shared and survives a reload.
  const filter = { status: (url.searchParams.get('status') || undefined) as InvoiceStatus | undefined, customerId: url.searchParams.get('customerId') || undefined };
  try {
    const [invoices, customers] = await Promise.all([fetchInvoices(fetch, filter), fetchCustomers(fetch)]);
    return { invoices: invoices.items, customers: customers.items, filter };
  } catch (err) {
    failLoad(err, url);
  }
};
