import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchTickets } from '$lib/services/tickets-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { tickets: (await fetchTickets(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
