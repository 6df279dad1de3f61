import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchCustomer, fetchCustomerUsers, fetchInvoices, fetchOrders, fetchQuotes, fetchSubscriptions } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url, params, parent }) => {
  await parent();
  try {
    const [customer, quotes, orders, subscriptions, invoices, users] = await Promise.all([
      fetchCustomer(fetch, params.id),
      fetchQuotes(fetch, { customerId: params.id }),
      fetchOrders(fetch, { customerId: params.id }),
      fetchSubscriptions(fetch, { customerId: params.id }),
      fetchInvoices(fetch, { customerId: params.id }),
      session.can('customer.manage') ? fetchCustomerUsers(fetch, params.id) : Promise.resolve({ items: [] }),
    ]);
    return { customer, quotes: quotes.items, orders: orders.items, subscriptions: subscriptions.items, invoices: invoices.items, users: users.items };
  } catch (err) {
    failLoad(err, url);
  }
};
