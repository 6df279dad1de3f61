import { z } from '@hono/zod-openapi';
import { TICKET_AUTHOR_KINDS, TICKET_PRIORITIES, TICKET_STATUSES } from '@keelson/db/schema';
import { setOf } from '../../schemas';

export const TicketParam = z.object({ id: z.uuid({ error: 'must be a ticket id (UUID)' }).openapi({ param: { name: 'id', in: 'path' } }) });
export const AttachmentParam = z.object({ id: z.uuid({ error: 'must be an attachment id (UUID)' }).openapi({ param: { name: 'id', in: 'path' } }) });

export const TicketListQuery = z.object({
  status: z.enum(TICKET_STATUSES).optional(),
  priority: z.enum(TICKET_PRIORITIES).optional(),
  assignee: z.union([z.enum(['me', 'none']), z.uuid()], { error: 'me, none or a user id' }).optional().openapi({ description: '`me`, `none` or a user id' }),
  customerId: z.uuid({ error: 'must be a customer id (UUID)' }).optional(),
  sla: z.enum(['breached', 'at_risk']).optional(),
  q: z.string().max(200).optional().openapi({ description: 'Words of the subject, or a reference (T-2026-0007)' }),
});

const attachmentIds = setOf(z.uuid({ error: 'must be an attachment id (UUID)' }), { max: 10 }).optional();
const body = z.string().trim().min(1, 'write something').max(20_000);

export const OpenTicketBody = z
  .object({
    customerId: z.uuid({ error: 'must be a customer id (UUID)' }).optional().openapi({ description: 'Staff only: the customer the ticket is for' }),
    subject: z.string().trim().min(1, 'give the ticket a subject').max(200),
    body,
    priority: z.enum(TICKET_PRIORITIES).optional(),
    subscriptionId: z.uuid({ error: 'must be a subscription id (UUID)' }).optional().openapi({ description: 'The service the ticket is about' }),
    attachmentIds,
  })
  .strict()
  .openapi('TicketOpen');

export const MessageBody = z.object({ body, attachmentIds }).strict().openapi('TicketMessageNew');
export const AssignBody = z.object({ assigneeId: z.uuid({ error: 'must be a user id (UUID)' }).nullable() }).strict().openapi('TicketAssign');
export const PriorityBody = z.object({ priority: z.enum(TICKET_PRIORITIES) }).strict().openapi('TicketPriority');
export const CloseBody = z.object({ reason: z.string().max(2000).optional() }).strict().openapi('TicketClose');
export const MergeBody = z.object({ intoId: z.uuid({ error: 'must be a ticket id (UUID)' }) }).strict().openapi('TicketMerge');
export const UploadQuery = z.object({ filename: z.string().trim().min(1).max(200) });

const when = z.string().nullable();
export const TicketSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    subject: z.string(),
    customer: z.object({ id: z.string(), name: z.string() }),
    service: z.object({ subscriptionId: z.string(), name: z.string(), status: z.string() }).nullable(),
    status: z.enum(TICKET_STATUSES),
    priority: z.enum(TICKET_PRIORITIES),
    assignee: z.object({ id: z.string(), name: z.string() }).nullable(),
    mergedIntoId: z.string().nullable(),
    messageCount: z.number().int(),
    sla: z.object({ state: z.enum(['breached', 'at_risk', 'ok', 'paused', 'closed']), dueAt: when }),
    firstResponseDueAt: when,
    firstRespondedAt: when,
    resolutionDueAt: when,
    firstResponseEscalatedAt: when,
    resolutionEscalatedAt: when,
    waitingSince: when,
    autoCloseAt: when,
    autoCloseWarnedAt: when,
    closedAt: when,
    closeReason: z.string().nullable(),
    workflowId: z.string(),
    lastMessageAt: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Ticket');
export const TicketListSchema = z.object({ items: z.array(TicketSchema) }).openapi('TicketList');

export const AttachmentSchema = z.object({ id: z.string(), filename: z.string(), contentType: z.string(), size: z.number().int() }).openapi('TicketAttachment');

export const TicketDetailSchema = TicketSchema.extend({
  mergedInto: z.object({ id: z.string(), reference: z.string() }).nullable(),
  merged: z.array(z.object({ id: z.string(), reference: z.string(), subject: z.string() })),
  messages: z.array(
    z.object({
      id: z.string(),
      ticketReference: z.string(),
      seq: z.number().int(),
      authorKind: z.enum(TICKET_AUTHOR_KINDS),
      authorName: z.string(),
      body: z.string(),
      createdAt: z.string(),
      attachments: z.array(AttachmentSchema),
    }),
  ),
}).openapi('TicketDetail');

export const TicketViewSchema = z
  .object({ ticketId: z.string(), status: z.enum(TICKET_STATUSES), priority: z.enum(TICKET_PRIORITIES), assigneeId: z.string().nullable(), version: z.number().int(), mergedIntoId: z.string().nullable() })
  .openapi('TicketView');

export const AssigneeListSchema = z.object({ items: z.array(z.object({ id: z.string(), name: z.string(), email: z.string(), role: z.string() })) }).openapi('TicketAssignees');
