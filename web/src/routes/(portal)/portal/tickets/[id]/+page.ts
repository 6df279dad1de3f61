import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchTicket } from '$lib/services/tickets-service';

export const load: PageLoad = async ({ fetch, url, params }) => {
  try {
    return { ticket: await fetchTicket(fetch, params.id) };
  } catch (err) {
    failLoad(err, url);
  }
};
