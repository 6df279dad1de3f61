import { ROLE_PERMISSIONS, ROLES, type Permission } from '@keelson/common/permissions';
import type { Database } from '@keelson/db';
import { memberships, ticketAttachments, ticketMessages, tickets, users } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { enqueueEmail } from '../mail/outbox';
import type { PendingMessage, TicketEmail, TicketRecord } from './types';

export type * from './types';

const at = (ms: number | null) => (ms === null ? null : new Date(ms));
const rolesHolding = (permission: Permission) => ROLES.filter((r) => r !== 'customer' && ROLE_PERMISSIONS[r].has(permission));

/** The Postgres side of a ticket's run: its record, the messages it has not seen, and its emails. */
export function createTicketActivities({ db }: { db: Database }) {
  async function requireTicket(tenantId: string, ticketId: string) {
    const [row] = await db.select().from(tickets).where(and(eq(tickets.tenantId, tenantId), eq(tickets.id, ticketId)));
    // Retryable: the API starts the run in the transaction that records the ticket.
    if (!row) throw ApplicationFailure.retryable(`ticket ${ticketId} is not recorded (yet)`, 'TicketNotFound');
    return row;
  }

  async function staffEmails(tenantId: string, permission: Permission, also: string | null): Promise<string[]> {
    const rows = await db
      .select({ id: users.id, email: users.email })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.tenantId, tenantId), inArray(memberships.role, rolesHolding(permission))))
      .orderBy(asc(users.email));
    const assignee = also ? rows.find((r) => r.id === also) : undefined;
    return assignee ? [assignee.email, ...rows.filter((r) => r !== assignee).map((r) => r.email)] : rows.map((r) => r.email);
  }

  async function assigneeEmail(tenantId: string, userId: string | null): Promise<string | null> {
    if (!userId) return null;
    const [row] = await db
      .select({ email: users.email })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
    return row?.email ?? null;
  }

  return {
    /** Writes the ticket as the workflow sees it; a snapshot older than the row changes nothing. */
    async recordTicket(r: TicketRecord): Promise<void> {
      const c = r.carried;
      await db
        .update(tickets)
        .set({
          status: c.status,
          priority: c.priority,
          assigneeId: c.assigneeId,
          mergedIntoId: c.mergedIntoId,
          version: c.version,
          firstResponseDueAt: at(r.firstResponseDueAt),
          firstRespondedAt: at(c.firstRespondedAt),
          resolutionDueAt: at(r.resolutionDueAt),
          firstResponseEscalatedAt: at(c.firstResponseEscalatedAt),
          resolutionEscalatedAt: at(c.resolutionEscalatedAt),
          waitingSince: at(c.waitingSince),
          autoCloseWarnedAt: at(c.autoCloseWarnedAt),
          autoCloseAt: at(r.autoCloseAt),
          closedAt: at(c.closedAt),
          closeReason: c.closeReason,
          updatedAt: sql`now()`,
        })
        .where(and(eq(tickets.tenantId, r.tenantId), eq(tickets.id, r.ticketId), sql`${tickets.version} < ${c.version}`));
    },

    /** Messages written after `afterSeq`, in order (only who wrote them: the text stays here). */
    async pendingTicketMessages({ tenantId, ticketId, afterSeq }: { tenantId: string; ticketId: string; afterSeq: number }): Promise<PendingMessage[]> {
      await requireTicket(tenantId, ticketId);
      return db
        .select({ seq: ticketMessages.seq, authorKind: ticketMessages.authorKind })
        .from(ticketMessages)
        .where(and(eq(ticketMessages.tenantId, tenantId), eq(ticketMessages.ticketId, ticketId), gt(ticketMessages.seq, afterSeq)))
        .orderBy(asc(ticketMessages.seq))
        .limit(100);
    },

    /**
     * Records one of the ticket's emails under its business key (`<ticket>/message/<seq>`,
     * `<ticket>/<round>/first-response-escalation`, …) and answers its id for `deliverEmail`;
     * null when there is nobody to send it to. Asking again answers the same email.
     */
    async queueTicketEmail({ tenantId, ticketId, email }: { tenantId: string; ticketId: string; email: TicketEmail }): Promise<{ emailId: string } | null> {
      const t = await requireTicket(tenantId, ticketId);
      const subjectLine = `[${t.reference}] ${t.subject}`;
      const request = { tenantId, kind: 'ticket', resource: `ticket:${ticketId}` };
      let mail: { key: string; to: string[]; subject: string; text: string } | null = null;
      switch (email.kind) {
        case 'message': {
          const [m] = await db.select().from(ticketMessages).where(and(eq(ticketMessages.ticketId, ticketId), eq(ticketMessages.seq, email.seq)));
          if (!m || m.authorKind === 'system') return null;
          const files = await db.select({ filename: ticketAttachments.filename, size: ticketAttachments.size }).from(ticketAttachments).where(eq(ticketAttachments.messageId, m.id)).orderBy(asc(ticketAttachments.createdAt));
          const attached = files.length ? `\n\nAttached: ${files.map((f) => `${f.filename} (${f.size} bytes)`).join(', ')}` : '';
          const toCustomer = m.authorKind === 'staff';
          // The customer's messages go to the assignee, or to everyone who answers tickets.
          const assignee = toCustomer ? null : await assigneeEmail(tenantId, t.assigneeId);
          const to = toCustomer ? [t.requesterEmail] : assignee ? [assignee] : await staffEmails(tenantId, 'ticket.reply', null);
          const intro = toCustomer ? `${m.authorName} of support wrote:` : m.seq === 1 ? `${m.authorName} opened a ticket:` : `${m.authorName} wrote:`;
          mail = {
            key: `${ticketId}/message/${email.seq}`,
            to,
            subject: m.seq === 1 || !toCustomer ? subjectLine : `Re: ${subjectLine}`,
            text: `${intro}\n\n${m.body}${attached}\n\n${toCustomer ? 'Answer in the customer portal.' : `Priority: ${t.priority}.`}\n`,
          };
          break;
        }
        case 'first-response-escalation':
        case 'resolution-escalation': {
          const what = email.kind === 'first-response-escalation' ? 'first response' : 'resolution';
          mail = {
            key: `${ticketId}/${email.round}/${email.kind}`,
            to: await staffEmails(tenantId, 'ticket.manage', t.assigneeId),
            subject: `Escalation: ${subjectLine} is past its ${what} deadline`,
            text: `Ticket ${t.reference} (${t.priority} priority) was due a ${what} by ${new Date(email.dueAt).toISOString()} and has none yet.\n`,
          };
          break;
        }
        case 'auto-close-warning':
          mail = {
            key: `${ticketId}/waiting-${email.fromSeq}/auto-close-warning`,
            to: [t.requesterEmail],
            subject: `Re: ${subjectLine} will be closed soon`,
            text: `We answered your ticket ${t.reference} and have not heard back. It will be closed on ${new Date(email.closesAt).toISOString()} unless you reply in the customer portal.\n`,
          };
          break;
        case 'auto-closed':
          mail = {
            key: `${ticketId}/waiting-${email.fromSeq}/auto-closed`,
            to: [t.requesterEmail],
            subject: `Re: ${subjectLine} is closed`,
            text: `We closed your ticket ${t.reference} as we did not hear back. Reply in the customer portal to reopen it.\n`,
          };
          break;
        case 'assigned': {
          const to = await assigneeEmail(tenantId, email.assigneeId);
          if (!to) return null;
          mail = { key: `${ticketId}/assigned/${email.version}`, to: [to], subject: `Assigned to you: ${subjectLine}`, text: `Ticket ${t.reference} (${t.priority} priority) is assigned to you.\n` };
          break;
        }
      }
      if (!mail || mail.to.length === 0) return null;
      const queued = await enqueueEmail(db, { ...request, ...mail });
      return { emailId: queued.emailId };
    },
  };
}

export type TicketActivities = ReturnType<typeof createTicketActivities>;
