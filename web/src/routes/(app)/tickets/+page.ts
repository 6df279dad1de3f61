import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchTickets } from '$lib/services/tickets-service';

const FILTERS = ['status', 'priority', 'assignee', 'sla', 'customerId', 'q'] as const;

export const load: PageLoad = async ({ fetch, url }) => {
  const filters: Record<string, string> = {};
  for (const f of FILTERS) if (url.searchParams.get(f)) filters[f] = url.searchParams.get(f)!;
  try {
    return { tickets: (await fetchTickets(fetch, filters)).items, filters };
  } catch (err) {
    failLoad(err, url);
  }
};
