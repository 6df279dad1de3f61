import { index, integer, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { customers, subscriptions } from './billing';
import { bytea } from './files';
import { tenants, users } from './tenancy';

const ts = (name: string) => timestamp(name, { withTimezone: true });

/**
 * A ticket's states (docs/decisions/0028-tickets-and-kyc-gating.md). `open` waits on staff,
 * `waiting_on_customer` on the customer (auto-closed after a while, with a warning first);
 * `closed` reopens on a new customer message until the reopen window ends, then the ticket is
 * `archived`; `merged` tickets live on in the ticket they were merged into.
 */
export const TICKET_STATUSES = ['open', 'waiting_on_customer', 'closed', 'archived', 'merged'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];
export const ticketStatusEnum = pgEnum('ticket_status', TICKET_STATUSES);

export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];
export const ticketPriorityEnum = pgEnum('ticket_priority', TICKET_PRIORITIES);

/** Who wrote a message: the customer's side, staff, or Keelson itself (a merge, an auto-close). */
export const TICKET_AUTHOR_KINDS = ['customer', 'staff', 'system'] as const;
export type TicketAuthorKind = (typeof TICKET_AUTHOR_KINDS)[number];
export const ticketAuthorKindEnum = pgEnum('ticket_author_kind', TICKET_AUTHOR_KINDS);

/**
 * A support ticket of a customer, as its workflow (`ticket/<id>`) last recorded it: the API writes
 * what a person wrote (subject, messages, attachments); status, deadlines and escalations are
 * the workflow's, written with a `version` that only grows.
 */
export const tickets = pgTable(
  'tickets',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    /** `T-2026-0007`, from the organization's number counters. */
    reference: text('reference').notNull(),
    subject: text('subject').notNull(),
    /** The service the ticket is about (one of the customer's subscriptions), if any. */
    subscriptionId: uuid('subscription_id').references(() => subscriptions.id, { onDelete: 'set null' }),
    /** Where replies to the customer go: the customer user who opened it, or the billing contact. */
    requesterEmail: text('requester_email').notNull(),
    workflowId: text('workflow_id').notNull(),
    status: ticketStatusEnum('status').notNull().default('open'),
    priority: ticketPriorityEnum('priority').notNull().default('normal'),
    assigneeId: uuid('assignee_id').references(() => users.id, { onDelete: 'set null' }),
    mergedIntoId: uuid('merged_into_id'),
    /** Messages written so far (the next one is `messageCount + 1`); bumped under the row lock. */
    messageCount: integer('message_count').notNull().default(0),
    /** The workflow's record: grows with every change it writes; an older write changes nothing. */
    version: integer('version').notNull().default(0),
    firstResponseDueAt: ts('first_response_due_at'),
    firstRespondedAt: ts('first_responded_at'),
    /** Null while the clock is paused (waiting on the customer) or the ticket is closed. */
    resolutionDueAt: ts('resolution_due_at'),
    firstResponseEscalatedAt: ts('first_response_escalated_at'),
    resolutionEscalatedAt: ts('resolution_escalated_at'),
    waitingSince: ts('waiting_since'),
    autoCloseWarnedAt: ts('auto_close_warned_at'),
    /** Waiting on the customer: when the ticket closes unless they answer. */
    autoCloseAt: ts('auto_close_at'),
    closedAt: ts('closed_at'),
    closeReason: text('close_reason'),
    openedBy: text('opened_by').notNull(),
    lastMessageAt: ts('last_message_at').notNull().defaultNow(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('tickets_tenant_id_reference_idx').on(t.tenantId, t.reference),
    index('tickets_tenant_id_status_idx').on(t.tenantId, t.status, t.lastMessageAt),
    index('tickets_tenant_id_customer_id_idx').on(t.tenantId, t.customerId),
  ],
);

/** One message of a ticket's thread, numbered per ticket (`seq`) so the workflow takes each once. */
export const ticketMessages = pgTable(
  'ticket_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    authorKind: ticketAuthorKindEnum('author_kind').notNull(),
    /** The actor (`user:<id>`, `apikey:<id>`, `system`). */
    author: text('author').notNull(),
    authorName: text('author_name').notNull(),
    body: text('body').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('ticket_messages_ticket_id_seq_idx').on(t.ticketId, t.seq)],
);

/**
 * A file attached to a ticket message. Uploaded first (no message yet), bound to the message it
 * is sent with; its type is read from the content, never the name.
 */
export const ticketAttachments = pgTable(
  'ticket_attachments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    /** The customer the uploader acts for (a customer user), or null for staff. */
    customerId: uuid('customer_id').references(() => customers.id, { onDelete: 'cascade' }),
    ticketId: uuid('ticket_id').references(() => tickets.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id').references(() => ticketMessages.id, { onDelete: 'cascade' }),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    content: bytea('content').notNull(),
    uploadedBy: text('uploaded_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('ticket_attachments_tenant_id_message_id_idx').on(t.tenantId, t.messageId), index('ticket_attachments_ticket_id_idx').on(t.ticketId)],
);
