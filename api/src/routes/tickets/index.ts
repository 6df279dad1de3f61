import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse } from '../../schemas';
import { serviceContext } from '../../services/context';
import {
  assignTicket,
  closeTicket,
  getTicket,
  listAssignees,
  listTickets,
  mergeTicket,
  openTicket,
  postMessage,
  readAttachment,
  setTicketPriority,
  TICKET_MAX_ATTACHMENT_BYTES,
  uploadAttachment,
} from '../../services/tickets/tickets-service';
import {
  AssignBody,
  AssigneeListSchema,
  AttachmentParam,
  AttachmentSchema,
  CloseBody,
  MergeBody,
  MessageBody,
  OpenTicketBody,
  PriorityBody,
  TicketDetailSchema,
  TicketListQuery,
  TicketListSchema,
  TicketParam,
  TicketViewSchema,
  UploadQuery,
} from './schema';

const tags = ['tickets'];

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  summary: 'Tickets, most recently active first, with their SLA state (a customer user: their own)',
  middleware: [requirePermission('ticket.read')],
  request: { query: TicketListQuery },
  responses: { 200: jsonResponse(TicketListSchema, 'Tickets'), ...errorResponses },
});
const open = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Open a ticket (a customer user: for their customer; staff name the customer); starts its run ticket/<id>',
  middleware: [requirePermission('ticket.read')],
  request: { body: jsonBody(OpenTicketBody) },
  responses: { 201: jsonResponse(TicketDetailSchema, 'Opened'), ...errorResponses },
});
const assignees = createRoute({
  method: 'get',
  path: '/assignees',
  tags,
  summary: 'Staff who may be assigned tickets',
  middleware: [requirePermission('ticket.manage')],
  responses: { 200: jsonResponse(AssigneeListSchema, 'Staff'), ...errorResponses },
});
const upload = createRoute({
  method: 'post',
  path: '/attachments',
  tags,
  summary: `Upload a file for a message (the raw bytes as the body, at most ${TICKET_MAX_ATTACHMENT_BYTES} bytes; an image, PDF, ZIP, gzip or text by content)`,
  middleware: [requirePermission('ticket.read')],
  request: { query: UploadQuery },
  responses: { 201: jsonResponse(AttachmentSchema, 'Stored'), 413: errorResponses[400], ...errorResponses },
});
const content = createRoute({
  method: 'get',
  path: '/attachments/{id}/content',
  tags,
  summary: "An attachment's content",
  middleware: [requirePermission('ticket.read')],
  request: { params: AttachmentParam },
  responses: { 200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errorResponses },
});
const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  summary: 'A ticket with its thread',
  middleware: [requirePermission('ticket.read')],
  request: { params: TicketParam },
  responses: { 200: jsonResponse(TicketDetailSchema, 'The ticket'), ...errorResponses },
});
const message = createRoute({
  method: 'post',
  path: '/{id}/messages',
  tags,
  summary: 'Write in a ticket (customer: ticket.submit; staff: ticket.reply); the other side is emailed once',
  middleware: [requirePermission('ticket.read')],
  request: { params: TicketParam, body: jsonBody(MessageBody) },
  responses: { 201: jsonResponse(TicketDetailSchema, 'Written'), ...errorResponses },
});
const assign = createRoute({
  method: 'post',
  path: '/{id}/assign',
  tags,
  summary: 'Assign the ticket to a member who answers tickets, or unassign it',
  middleware: [requirePermission('ticket.manage')],
  request: { params: TicketParam, body: jsonBody(AssignBody) },
  responses: { 200: jsonResponse(TicketViewSchema, 'Assigned'), ...errorResponses },
});
const priority = createRoute({
  method: 'post',
  path: '/{id}/priority',
  tags,
  summary: "Set the ticket's priority (its deadlines follow)",
  middleware: [requirePermission('ticket.manage')],
  request: { params: TicketParam, body: jsonBody(PriorityBody) },
  responses: { 200: jsonResponse(TicketViewSchema, 'Set'), ...errorResponses },
});
const close = createRoute({
  method: 'post',
  path: '/{id}/close',
  tags,
  summary: 'Close the ticket (staff: ticket.manage; a customer user: their own); a customer message reopens it',
  middleware: [requirePermission('ticket.read')],
  request: { params: TicketParam, body: jsonBody(CloseBody) },
  responses: { 200: jsonResponse(TicketViewSchema, 'Closed'), ...errorResponses },
});
const merge = createRoute({
  method: 'post',
  path: '/{id}/merge',
  tags,
  summary: 'Merge the ticket into another of the same customer',
  middleware: [requirePermission('ticket.manage')],
  request: { params: TicketParam, body: jsonBody(MergeBody) },
  responses: { 200: jsonResponse(TicketViewSchema, 'Merged'), ...errorResponses },
});

/** Mounted at /api/tickets. */
export function ticketsRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(TicketListSchema.parse({ items: await listTickets(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(open, async (c) => c.json(TicketDetailSchema.parse(await openTicket(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(assignees, async (c) => c.json(AssigneeListSchema.parse({ items: await listAssignees(serviceContext(c)) }), 200))
    .openapi(upload, async (c) => {
      const bytes = Buffer.from(await c.req.arrayBuffer());
      return c.json(AttachmentSchema.parse(await uploadAttachment(serviceContext(c), c.req.valid('query'), bytes)), 201);
    })
    .openapi(content, async (c) => {
      const file = await readAttachment(serviceContext(c), c.req.valid('param').id);
      return c.body(new Uint8Array(file.content), 200, {
        'content-type': file.contentType,
        'content-disposition': `attachment; filename="${file.filename.replace(/[^\w.-]/g, '_')}"`,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      }) as never;
    })
    .openapi(get, async (c) => c.json(TicketDetailSchema.parse(await getTicket(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(message, async (c) => c.json(TicketDetailSchema.parse(await postMessage(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 201))
    .openapi(assign, async (c) => c.json(TicketViewSchema.parse(await assignTicket(serviceContext(c), c.req.valid('param').id, c.req.valid('json').assigneeId)), 200))
    .openapi(priority, async (c) => c.json(TicketViewSchema.parse(await setTicketPriority(serviceContext(c), c.req.valid('param').id, c.req.valid('json').priority)), 200))
    .openapi(close, async (c) => c.json(TicketViewSchema.parse(await closeTicket(serviceContext(c), c.req.valid('param').id, c.req.valid('json').reason)), 200))
    .openapi(merge, async (c) => c.json(TicketViewSchema.parse(await mergeTicket(serviceContext(c), c.req.valid('param').id, c.req.valid('json').intoId)), 200));
}
