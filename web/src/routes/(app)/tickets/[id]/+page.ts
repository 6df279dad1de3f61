import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchAssignees, fetchTicket } from '$lib/services/tickets-service';

export const load: PageLoad = async ({ fetch, url, params, parent }) => {
  try {
    const { me } = await parent();
    const [ticket, assignees] = await Promise.all([fetchTicket(fetch, params.id), me.permissions.includes('ticket.manage') ? fetchAssignees(fetch) : Promise.resolve({ items: [] })]);
    return { ticket, assignees: assignees.items, canManage: me.permissions.includes('ticket.manage') };
  } catch (err) {
    failLoad(err, url);
  }
};
