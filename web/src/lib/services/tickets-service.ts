import { apiUrl, readApiError, request, requestHeaders, type Fetch } from '$lib/api/request';
import type { TicketAssignees, TicketAttachment, TicketDetail, TicketList, TicketListQuery, TicketOpenInput, TicketPriority, TicketView } from '$lib/api/types';

/** Support tickets (decision 0028): a customer user's calls are narrowed to their customer by the API. */
export const fetchTickets = (fetch: Fetch, query: TicketListQuery = {}, signal?: AbortSignal) => request<TicketList>(fetch, '/tickets', { query, signal });
export const fetchTicket = (fetch: Fetch, id: string) => request<TicketDetail>(fetch, `/tickets/${encodeURIComponent(id)}`);
export const openTicket = (fetch: Fetch, body: TicketOpenInput) => request<TicketDetail>(fetch, '/tickets', { method: 'POST', body });
export const writeMessage = (fetch: Fetch, id: string, body: { body: string; attachmentIds?: string[] }) =>
  request<TicketDetail>(fetch, `/tickets/${encodeURIComponent(id)}/messages`, { method: 'POST', body });
export const fetchAssignees = (fetch: Fetch) => request<TicketAssignees>(fetch, '/tickets/assignees');
export const assignTicket = (fetch: Fetch, id: string, assigneeId: string | null) => request<TicketView>(fetch, `/tickets/${encodeURIComponent(id)}/assign`, { method: 'POST', body: { assigneeId } });
export const setPriority = (fetch: Fetch, id: string, priority: TicketPriority) => request<TicketView>(fetch, `/tickets/${encodeURIComponent(id)}/priority`, { method: 'POST', body: { priority } });
export const closeTicket = (fetch: Fetch, id: string) => request<TicketView>(fetch, `/tickets/${encodeURIComponent(id)}/close`, { method: 'POST', body: {} });
export const mergeTicket = (fetch: Fetch, id: string, intoId: string) => request<TicketView>(fetch, `/tickets/${encodeURIComponent(id)}/merge`, { method: 'POST', body: { intoId } });
export const attachmentUrl = (id: string) => apiUrl(`/tickets/attachments/${encodeURIComponent(id)}/content`);

/** Uploads a file as the raw body; the API judges its type by content. */
export async function uploadAttachment(fetch: Fetch, file: File): Promise<TicketAttachment> {
  const res = await fetch(apiUrl('/tickets/attachments', { filename: file.name }), { method: 'POST', headers: (() => {
    const h = requestHeaders('POST', false);
    h.set('content-type', 'application/octet-stream');
    return h;
  })(), body: file, credentials: 'same-origin' });
  if (!res.ok) throw await readApiError(res);
  return (await res.json()) as TicketAttachment;
}
