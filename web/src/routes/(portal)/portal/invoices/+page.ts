import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCreditNotes, fetchInvoices } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [invoices, notes] = await Promise.all([fetchInvoices(fetch), fetchCreditNotes(fetch)]);
    // Drafts are not sent yet: they are not the customer's to see.
    return { invoices: invoices.items.filter((i) => i.status !== 'draft'), notes: notes.items };
  } catch (err) {
    failLoad(err, url);
  }
};
