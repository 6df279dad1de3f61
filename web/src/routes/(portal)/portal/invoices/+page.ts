import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCreditNotes, fetchCustomers, fetchInvoices } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [invoices, notes, customers] = await Promise.all([fetchInvoices(fetch), fetchCreditNotes(fetch), fetchCustomers(fetch)]);
    // Drafts are not sent yet: they are not the customer's to see.
    return { invoices: invoices.items.filter((i) => i.status !== 'draft'), notes: notes.items, timeZone: customers.items[0]?.timeZone };
  } catch (err) {
    failLoad(err, url);
  }
};
