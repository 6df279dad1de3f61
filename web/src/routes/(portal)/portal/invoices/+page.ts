import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchCreditNotes, fetchCustomers, fetchInvoices, fetchSavedCard, fetchSubscriptions } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [invoices, notes, customers, subscriptions] = await Promise.all([fetchInvoices(fetch), fetchCreditNotes(fetch), fetchCustomers(fetch), fetchSubscriptions(fetch)]);
    // A customer user's list of customers is their own one.
    const customer = customers.items[0] ?? null;
    return {
      // Drafts are not sent yet: they are not the customer's to see.
      invoices: invoices.items.filter((i) => i.status !== 'draft'),
      notes: notes.items,
      timeZone: customer?.timeZone,
      customerId: customer?.id ?? null,
      card: customer ? (await fetchSavedCard(fetch, customer.id)).card : null,
      subscriptions: subscriptions.items,
    };
  } catch (err) {
    failLoad(err, url);
  }
};
