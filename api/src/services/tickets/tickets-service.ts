import { DEFAULT_TICKET_TIMELINE, type TicketInput, type TicketTimeline, type TicketView } from '@keelson/activities/tickets/types';
import { TICKET_OPERATION, WorkflowId, WorkflowType, resourceRef } from '@keelson/common/constants';
import { ROLE_PERMISSIONS, ROLES } from '@keelson/common/permissions';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { writeAudit, type Executor } from '@keelson/db';
import {
  customerContacts,
  customers,
  memberships,
  numberCounters,
  plans,
  products,
  subscriptions,
  ticketAttachments,
  ticketMessages,
  tickets,
  users,
  type TicketPriority,
  type TicketStatus,
} from '@keelson/db/schema';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { and, asc, desc, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { fileTypeFromBuffer } from 'file-type';
import { createHash, randomUUID } from 'node:crypto';
import { hasPermission } from '../../auth/middleware';
import type { AppDeps } from '../../deps';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerResource, customerScope } from '../customer-scope';

/** Largest file a ticket message may carry (a screenshot, a log, a PDF). */
export const TICKET_MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
/** What an attachment may be, judged from its content; text is UTF-8 without NUL bytes. */
export const TICKET_ATTACHMENT_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'application/zip', 'application/gzip', 'text/plain'] as const;

const invalid = (path: string, message: string) => new ValidationError(`${path}: ${message}`, { issues: [{ path, message }] });
const iso = (d: Date | null) => d?.toISOString() ?? null;

export function ticketTimeline(deps: AppDeps): TicketTimeline {
  const custom = deps.config.ticketTimeline ?? {};
  return {
    ...DEFAULT_TICKET_TIMELINE,
    ...custom,
    firstResponseMs: { ...DEFAULT_TICKET_TIMELINE.firstResponseMs, ...custom.firstResponseMs },
    resolutionMs: { ...DEFAULT_TICKET_TIMELINE.resolutionMs, ...custom.resolutionMs },
  };
}

/** The tenant clause, plus the customer's own for a customer user: every ticket query starts here. */
function visible(ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return and(eq(tickets.tenantId, ctx.principal.tenantId), scope ? eq(tickets.customerId, scope) : undefined, ...more);
}

type TicketRow = typeof tickets.$inferSelect;

async function requireTicket(ctx: ServiceContext, id: string, tx: Executor = ctx.deps.db): Promise<TicketRow> {
  const [row] = await tx.select().from(tickets).where(visible(ctx, eq(tickets.id, id)));
  if (!row) throw new NotFoundError('ticket');
  return row;
}

/** Which side a caller writes for: a customer user for their customer, staff for the organization. */
function side(ctx: ServiceContext): 'customer' | 'staff' {
  return customerScope(ctx) ? 'customer' : 'staff';
}

/** Customer users need `ticket.submit` to write; staff `ticket.reply` (or `ticket.submit` to open one for a customer). */
function requireWriter(ctx: ServiceContext, opening = false) {
  if (side(ctx) === 'customer') {
    if (!hasPermission(ctx.principal, 'ticket.submit')) throw new ForbiddenError('missing permission: ticket.submit');
  } else if (!hasPermission(ctx.principal, 'ticket.reply') && !(opening && hasPermission(ctx.principal, 'ticket.submit'))) {
    throw new ForbiddenError('missing permission: ticket.reply');
  }
}

/** Who the caller is, as a message shows it. */
async function authorName(ctx: ServiceContext, tx: Executor): Promise<{ name: string; email: string | null }> {
  const userId = ctx.principal.userId ?? ctx.principal.onBehalfOf ?? null;
  if (!userId) return { name: ctx.principal.actor, email: null };
  const [u] = await tx.select({ name: users.name, email: users.email }).from(users).where(eq(users.id, userId));
  return { name: u?.name || u?.email || ctx.principal.actor, email: u?.email ?? null };
}

export interface SlaState {
  state: 'breached' | 'at_risk' | 'ok' | 'paused' | 'closed';
  /** The next deadline not yet met. */
  dueAt: string | null;
}

/** Within this of a deadline, a ticket is at risk. */
const AT_RISK_MS = 60 * 60 * 1000;

export function slaOf(row: Pick<TicketRow, 'status' | 'firstResponseDueAt' | 'firstRespondedAt' | 'resolutionDueAt'>, now = Date.now()): SlaState {
  if (row.status !== 'open' && row.status !== 'waiting_on_customer') return { state: 'closed', dueAt: null };
  const dues = [row.firstRespondedAt ? null : row.firstResponseDueAt, row.resolutionDueAt].filter((d): d is Date => d !== null).map((d) => d.getTime());
  if (!dues.length) return { state: 'paused', dueAt: null };
  const next = Math.min(...dues);
  return { state: next <= now ? 'breached' : next - now <= AT_RISK_MS ? 'at_risk' : 'ok', dueAt: new Date(next).toISOString() };
}

async function present(db: Executor, rows: TicketRow[]) {
  if (!rows.length) return [];
  const customerRows = await db.select({ id: customers.id, name: customers.name }).from(customers).where(inArray(customers.id, [...new Set(rows.map((r) => r.customerId))]));
  const assigneeIds = [...new Set(rows.flatMap((r) => (r.assigneeId ? [r.assigneeId] : [])))];
  const assignees = assigneeIds.length ? await db.select({ id: users.id, name: users.name, email: users.email }).from(users).where(inArray(users.id, assigneeIds)) : [];
  const subIds = [...new Set(rows.flatMap((r) => (r.subscriptionId ? [r.subscriptionId] : [])))];
  const services = subIds.length
    ? await db
        .select({ id: subscriptions.id, plan: plans.name, product: products.name, status: subscriptions.status })
        .from(subscriptions)
        .innerJoin(plans, eq(plans.id, subscriptions.planId))
        .innerJoin(products, eq(products.id, plans.productId))
        .where(inArray(subscriptions.id, subIds))
    : [];
  const now = Date.now();
  return rows.map((t) => {
    const assignee = assignees.find((a) => a.id === t.assigneeId);
    const service = services.find((s) => s.id === t.subscriptionId);
    return {
      id: t.id,
      reference: t.reference,
      subject: t.subject,
      customer: { id: t.customerId, name: customerRows.find((c) => c.id === t.customerId)?.name ?? '' },
      service: service ? { subscriptionId: service.id, name: `${service.product} · ${service.plan}`, status: service.status } : null,
      status: t.status,
      priority: t.priority,
      assignee: assignee ? { id: assignee.id, name: assignee.name || assignee.email } : null,
      mergedIntoId: t.mergedIntoId,
      messageCount: t.messageCount,
      sla: slaOf(t, now),
      firstResponseDueAt: iso(t.firstResponseDueAt),
      firstRespondedAt: iso(t.firstRespondedAt),
      resolutionDueAt: iso(t.resolutionDueAt),
      firstResponseEscalatedAt: iso(t.firstResponseEscalatedAt),
      resolutionEscalatedAt: iso(t.resolutionEscalatedAt),
      waitingSince: iso(t.waitingSince),
      autoCloseAt: iso(t.autoCloseAt),
      autoCloseWarnedAt: iso(t.autoCloseWarnedAt),
      closedAt: iso(t.closedAt),
      closeReason: t.closeReason,
      workflowId: t.workflowId,
      lastMessageAt: t.lastMessageAt.toISOString(),
      createdAt: t.createdAt.toISOString(),
      updatedAt: t.updatedAt.toISOString(),
    };
  });
}

export interface TicketFilter {
  status?: TicketStatus;
  priority?: TicketPriority;
  /** `me`, `none` or a user id. */
  assignee?: string;
  customerId?: string;
  sla?: 'breached' | 'at_risk';
  q?: string;
}

/** Tickets, most recently active first (a customer user: their customer's own). */
export async function listTickets(ctx: ServiceContext, f: TicketFilter) {
  const me = ctx.principal.userId ?? ctx.principal.onBehalfOf ?? null;
  const assignee =
    f.assignee === undefined ? undefined : f.assignee === 'none' ? isNull(tickets.assigneeId) : f.assignee === 'me' ? (me ? eq(tickets.assigneeId, me) : sql`false`) : eq(tickets.assigneeId, f.assignee);
  const active = sql`${tickets.status} in ('open', 'waiting_on_customer')`;
  const nextDue = sql`least(case when ${tickets.firstRespondedAt} is null then ${tickets.firstResponseDueAt} end, ${tickets.resolutionDueAt})`;
  const sla =
    f.sla === 'breached'
      ? and(active, sql`${nextDue} <= now()`)
      : f.sla === 'at_risk'
        ? and(active, sql`${nextDue} > now() and ${nextDue} <= now() + make_interval(secs => ${AT_RISK_MS / 1000})`)
        : undefined;
  const q = f.q?.trim();
  const rows = await ctx.deps.db
    .select()
    .from(tickets)
    .where(
      visible(
        ctx,
        f.status ? eq(tickets.status, f.status) : undefined,
        f.priority ? eq(tickets.priority, f.priority) : undefined,
        f.customerId ? eq(tickets.customerId, f.customerId) : undefined,
        assignee,
        sla,
        q ? or(sql`${tickets.subject} ilike ${`%${q.replace(/[%_\\]/g, (c) => `\\${c}`)}%`}`, eq(tickets.reference, q.toUpperCase())) : undefined,
      ),
    )
    .orderBy(desc(tickets.lastMessageAt))
    .limit(500);
  return present(ctx.deps.db, rows);
}

/** A ticket with its thread (messages of tickets merged into it included) and attachments. */
export async function getTicket(ctx: ServiceContext, id: string) {
  const row = await requireTicket(ctx, id);
  const merged = await ctx.deps.db
    .select({ id: tickets.id, reference: tickets.reference, subject: tickets.subject })
    .from(tickets)
    .where(and(eq(tickets.tenantId, ctx.principal.tenantId), eq(tickets.mergedIntoId, id)));
  const [into] = row.mergedIntoId ? await ctx.deps.db.select({ id: tickets.id, reference: tickets.reference }).from(tickets).where(eq(tickets.id, row.mergedIntoId)) : [];
  const ids = [id, ...merged.map((m) => m.id)];
  const messages = await ctx.deps.db.select().from(ticketMessages).where(inArray(ticketMessages.ticketId, ids)).orderBy(asc(ticketMessages.createdAt), asc(ticketMessages.seq));
  const files = messages.length
    ? await ctx.deps.db
        .select({ id: ticketAttachments.id, messageId: ticketAttachments.messageId, filename: ticketAttachments.filename, contentType: ticketAttachments.contentType, size: ticketAttachments.size })
        .from(ticketAttachments)
        .where(inArray(ticketAttachments.messageId, messages.map((m) => m.id)))
    : [];
  const refOf = new Map([[id, row.reference], ...merged.map((m) => [m.id, m.reference] as const)]);
  return {
    ...(await present(ctx.deps.db, [row]))[0]!,
    mergedInto: into ? { id: into.id, reference: into.reference } : null,
    merged: merged.map((m) => ({ id: m.id, reference: m.reference, subject: m.subject })),
    messages: messages.map((m) => ({
      id: m.id,
      ticketReference: refOf.get(m.ticketId) ?? row.reference,
      seq: m.seq,
      authorKind: m.authorKind,
      authorName: m.authorName,
      body: m.body,
      createdAt: m.createdAt.toISOString(),
      attachments: files.filter((f) => f.messageId === m.id).map(({ messageId: _m, ...f }) => f),
    })),
  };
}

/**
 * Stores a file for a message the caller is about to write. Its type is what the content is
 * (file-type reads the magic bytes; text must be UTF-8 without NUL bytes), never the name.
 */
export async function uploadAttachment(ctx: ServiceContext, meta: { filename: string }, content: Buffer) {
  requireWriter(ctx, true);
  if (content.length === 0) throw new ValidationError('the file is empty');
  if (content.length > TICKET_MAX_ATTACHMENT_BYTES) throw new ValidationError(`the file is larger than ${TICKET_MAX_ATTACHMENT_BYTES} bytes`);
  const detected = (await fileTypeFromBuffer(content))?.mime ?? (isText(content) ? 'text/plain' : undefined);
  if (!detected || !(TICKET_ATTACHMENT_TYPES as readonly string[]).includes(detected)) {
    throw new ValidationError(`the file must be an image (PNG, JPEG, GIF, WebP), a PDF, a ZIP or gzip archive or plain text; its content is ${detected ?? 'not a recognised type'}`);
  }
  const scope = customerScope(ctx);
  const [row] = await ctx.deps.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(ticketAttachments)
      .values({
        tenantId: ctx.principal.tenantId,
        customerId: scope,
        filename: meta.filename,
        contentType: detected,
        size: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        content,
        uploadedBy: ctx.principal.actor,
      })
      .returning({ id: ticketAttachments.id, filename: ticketAttachments.filename, contentType: ticketAttachments.contentType, size: ticketAttachments.size });
    await writeAudit(tx, { ...auditActor(ctx), action: 'ticket.attachment.upload', resourceType: 'ticket_attachment', resourceId: inserted[0]!.id, details: { contentType: detected, size: content.length } });
    return inserted;
  });
  return row!;
}

function isText(content: Buffer): boolean {
  if (content.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(content);
    return true;
  } catch {
    return false;
  }
}

/** Binds the caller's own unsent uploads to a message; anything else is a 400 naming the field. */
async function bindAttachments(ctx: ServiceContext, tx: Executor, ids: string[], ticketId: string, messageId: string) {
  if (!ids.length) return;
  const bound = await tx
    .update(ticketAttachments)
    .set({ ticketId, messageId })
    .where(and(eq(ticketAttachments.tenantId, ctx.principal.tenantId), inArray(ticketAttachments.id, ids), eq(ticketAttachments.uploadedBy, ctx.principal.actor), isNull(ticketAttachments.messageId)))
    .returning({ id: ticketAttachments.id });
  if (bound.length !== ids.length) throw invalid('attachmentIds', 'attach only files you uploaded and have not sent yet');
}

async function nextTicketReference(tx: Executor, tenantId: string): Promise<string> {
  const year = new Date().getUTCFullYear();
  const [row] = await tx
    .insert(numberCounters)
    .values({ tenantId, series: `ticket-${year}`, last: 1 })
    .onConflictDoUpdate({ target: [numberCounters.tenantId, numberCounters.series], set: { last: sql`${numberCounters.last} + 1` } })
    .returning({ last: numberCounters.last });
  return `T-${year}-${String(row!.last).padStart(4, '0')}`;
}

export interface OpenTicketInput {
  customerId?: string;
  subject: string;
  body: string;
  priority?: TicketPriority;
  subscriptionId?: string;
  attachmentIds?: string[];
}

/**
 * Opens a ticket: the row, its first message and its run (`ticket/<id>`) in one transaction, so
 * a start Temporal refuses leaves nothing. A customer user opens for their customer; staff name it.
 */
export async function openTicket(ctx: ServiceContext, input: OpenTicketInput) {
  requireWriter(ctx, true);
  const scope = customerScope(ctx);
  const customerId = scope ?? input.customerId;
  if (!customerId) throw invalid('customerId', 'name the customer the ticket is for');
  const tenantId = ctx.principal.tenantId;
  const id = randomUUID();
  const timeline = ticketTimeline(ctx.deps);
  const priority = input.priority ?? 'normal';
  await ctx.deps.db.transaction(async (tx) => {
    const [customer] = await tx.select({ id: customers.id }).from(customers).where(and(eq(customers.tenantId, tenantId), eq(customers.id, customerId)));
    if (!customer) throw invalid('customerId', 'no such customer in this organization');
    if (input.subscriptionId) {
      const [sub] = await tx.select({ id: subscriptions.id }).from(subscriptions).where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.customerId, customerId), eq(subscriptions.id, input.subscriptionId)));
      if (!sub) throw invalid('subscriptionId', "not one of the customer's services");
    }
    const author = await authorName(ctx, tx);
    let requesterEmail = scope ? author.email : null;
    if (!requesterEmail) {
      const contacts = await tx.select({ email: customerContacts.email, isBilling: customerContacts.isBilling }).from(customerContacts).where(eq(customerContacts.customerId, customerId)).orderBy(asc(customerContacts.position));
      requesterEmail = (contacts.find((c) => c.isBilling) ?? contacts[0])?.email ?? null;
    }
    if (!requesterEmail) throw invalid('customerId', 'the customer has no contact to answer');
    const reference = await nextTicketReference(tx, tenantId);
    await tx.insert(tickets).values({
      id,
      tenantId,
      customerId,
      reference,
      subject: input.subject,
      subscriptionId: input.subscriptionId ?? null,
      requesterEmail,
      workflowId: WorkflowId.ticket(id),
      priority,
      messageCount: 1,
      openedBy: ctx.principal.actor,
    });
    const [message] = await tx
      .insert(ticketMessages)
      .values({ tenantId, ticketId: id, seq: 1, authorKind: side(ctx), author: ctx.principal.actor, authorName: author.name, body: input.body })
      .returning({ id: ticketMessages.id });
    await bindAttachments(ctx, tx, input.attachmentIds ?? [], id, message!.id);
    await writeAudit(tx, { ...auditActor(ctx), action: 'ticket.open', resourceType: 'ticket', resourceId: id, details: { reference, customerId, priority } });
    const workflowInput: TicketInput = { tenantId, ticketId: id, customerId, priority, timeline };
    await ctx.deps.temporal.workflow.start(WorkflowType.ticket, {
      taskQueue: ctx.deps.config.coreTaskQueue,
      workflowId: WorkflowId.ticket(id),
      args: [workflowInput],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: runSearchAttributes({ tenantId, operation: TICKET_OPERATION, resources: [resourceRef('ticket', id), customerResource(customerId)], actor: ctx.principal.actor }),
    });
  });
  return getTicket(ctx, id);
}

/** Appends a message (numbered under the ticket's row lock) and wakes the ticket's run, which emails the other side. */
export async function postMessage(ctx: ServiceContext, id: string, input: { body: string; attachmentIds?: string[] }, authorKind?: 'system') {
  if (!authorKind) requireWriter(ctx);
  await ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx.select().from(tickets).where(visible(ctx, eq(tickets.id, id))).for('update');
    if (!row) throw new NotFoundError('ticket');
    if (row.status === 'merged') {
      const [into] = await tx.select({ reference: tickets.reference }).from(tickets).where(eq(tickets.id, row.mergedIntoId!));
      throw new ConflictError(`ticket ${row.reference} was merged into ${into?.reference ?? 'another ticket'}; write there`);
    }
    if (row.status === 'archived') throw new ConflictError(`ticket ${row.reference} is closed for good; open a new ticket`);
    const author = authorKind ? { name: 'Keelson' } : await authorName(ctx, tx);
    const seq = row.messageCount + 1;
    const [message] = await tx
      .insert(ticketMessages)
      .values({ tenantId: ctx.principal.tenantId, ticketId: id, seq, authorKind: authorKind ?? side(ctx), author: authorKind ? 'system' : ctx.principal.actor, authorName: author.name, body: input.body })
      .returning({ id: ticketMessages.id });
    await bindAttachments(ctx, tx, input.attachmentIds ?? [], id, message!.id);
    await tx.update(tickets).set({ messageCount: seq, lastMessageAt: sql`now()`, updatedAt: sql`now()` }).where(eq(tickets.id, id));
    await writeAudit(tx, { ...auditActor(ctx), action: authorKind ? 'ticket.note' : 'ticket.message', resourceType: 'ticket', resourceId: id, details: { seq } });
  });
  try {
    await ctx.deps.temporal.workflow.getHandle(WorkflowId.ticket(id)).signal('messages');
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ConflictError('the ticket is closed for good; open a new ticket');
    throw err;
  }
  return getTicket(ctx, id);
}

/** Sends a change to the ticket's run; a refused Update is a 409 naming the rule. */
async function update(ctx: ServiceContext, row: TicketRow, name: string, arg: unknown): Promise<TicketView> {
  if (row.status === 'archived' || row.status === 'merged') throw new ConflictError(`the ticket is ${row.status}`);
  try {
    return await ctx.deps.temporal.workflow.getHandle(WorkflowId.ticket(row.id)).executeUpdate<TicketView, [unknown]>(name, { args: [arg] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ConflictError('the ticket is closed for good');
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError((err.cause as Error | undefined)?.message ?? err.message);
    throw err;
  }
}

async function audited(ctx: ServiceContext, id: string, action: string, details: Record<string, unknown>) {
  await ctx.deps.db.transaction((tx) => writeAudit(tx, { ...auditActor(ctx), action, resourceType: 'ticket', resourceId: id, details }));
}

const ANSWERING_ROLES = ROLES.filter((r) => r !== 'customer' && ROLE_PERMISSIONS[r].has('ticket.reply'));

/** Staff who may be assigned tickets (their role answers tickets). */
export async function listAssignees(ctx: ServiceContext) {
  const rows = await ctx.deps.db
    .select({ id: users.id, name: users.name, email: users.email, role: memberships.role })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, ctx.principal.tenantId), inArray(memberships.role, ANSWERING_ROLES)))
    .orderBy(asc(users.email));
  return rows.map((r) => ({ id: r.id, name: r.name || r.email, email: r.email, role: r.role }));
}

export async function assignTicket(ctx: ServiceContext, id: string, assigneeId: string | null) {
  const row = await requireTicket(ctx, id);
  if (assigneeId && !(await listAssignees(ctx)).some((a) => a.id === assigneeId)) throw invalid('assigneeId', 'not a member of this organization who answers tickets');
  const view = await update(ctx, row, 'assign', { by: ctx.principal.actor, assigneeId });
  await audited(ctx, id, 'ticket.assign', { assigneeId });
  return view;
}

export async function setTicketPriority(ctx: ServiceContext, id: string, priority: TicketPriority) {
  const row = await requireTicket(ctx, id);
  const view = await update(ctx, row, 'setPriority', { by: ctx.principal.actor, priority });
  await audited(ctx, id, 'ticket.priority', { priority });
  return view;
}

/** Staff close a ticket (`ticket.manage`); a customer user may close their own (`ticket.submit`). */
export async function closeTicket(ctx: ServiceContext, id: string, reason: string | undefined) {
  const row = await requireTicket(ctx, id);
  if (side(ctx) === 'customer' ? !hasPermission(ctx.principal, 'ticket.submit') : !hasPermission(ctx.principal, 'ticket.manage')) {
    throw new ForbiddenError(`missing permission: ${side(ctx) === 'customer' ? 'ticket.submit' : 'ticket.manage'}`);
  }
  const view = await update(ctx, row, 'close', { by: ctx.principal.actor, reason: reason?.trim() || (side(ctx) === 'customer' ? 'closed by the customer' : 'resolved') });
  await audited(ctx, id, 'ticket.close', { reason: reason ?? null });
  return view;
}

/** Merges a ticket into another of the same customer: its thread shows in the other, its run ends. */
export async function mergeTicket(ctx: ServiceContext, id: string, intoId: string) {
  const row = await requireTicket(ctx, id);
  if (intoId === id) throw invalid('intoId', 'a ticket cannot be merged into itself');
  const [into] = await ctx.deps.db.select().from(tickets).where(visible(ctx, eq(tickets.id, intoId)));
  if (!into) throw invalid('intoId', 'no such ticket in this organization');
  if (into.customerId !== row.customerId) throw invalid('intoId', "another customer's ticket: tickets merge only within one customer");
  if (into.status === 'merged' || into.status === 'archived') throw invalid('intoId', `ticket ${into.reference} is ${into.status}`);
  const view = await update(ctx, row, 'merge', { by: ctx.principal.actor, intoId });
  await audited(ctx, id, 'ticket.merge', { intoId });
  await postMessage(ctx, intoId, { body: `Ticket ${row.reference} (“${row.subject}”) was merged into this ticket.` }, 'system');
  return view;
}

/** An attachment's content: of a ticket the caller sees, or their own upload not yet sent. */
export async function readAttachment(ctx: ServiceContext, attachmentId: string) {
  const [a] = await ctx.deps.db.select().from(ticketAttachments).where(and(eq(ticketAttachments.tenantId, ctx.principal.tenantId), eq(ticketAttachments.id, attachmentId)));
  if (!a) throw new NotFoundError('attachment');
  if (a.ticketId) await requireTicket(ctx, a.ticketId);
  else if (a.uploadedBy !== ctx.principal.actor) throw new NotFoundError('attachment');
  return { content: a.content, contentType: a.contentType, filename: a.filename };
}
