/**
 * Shapes shared by the ticket workflow, its activities and the API. Pure types and data:
 * workflow code imports them freely.
 */
export type TicketStatus = 'open' | 'waiting_on_customer' | 'closed' | 'archived' | 'merged';
export type TicketPriority = 'low' | 'normal' | 'high' | 'urgent';

/** Statuses a ticket's run ends in. */
export const TICKET_FINAL: readonly TicketStatus[] = ['archived', 'merged'];

/**
 * Every duration of a ticket, in milliseconds, so tests run weeks in seconds. Defaults in
 * `DEFAULT_TICKET_TIMELINE`; the API passes the organization's timeline when it starts a run.
 */
export interface TicketTimeline {
  /** Staff must answer a new (or reopened) ticket this long after it opened, by priority. */
  firstResponseMs: Record<TicketPriority, number>;
  /** …and resolve it this long after it opened, by priority; the clock stops while it waits on the customer. */
  resolutionMs: Record<TicketPriority, number>;
  /** A ticket waiting on the customer this long is closed. */
  autoCloseAfterMs: number;
  /** The customer is warned this long before the auto-close. */
  autoCloseWarningMs: number;
  /** A closed ticket reopens on a customer message this long; then it is archived and its run ends. */
  reopenWindowMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const DEFAULT_TICKET_TIMELINE: TicketTimeline = {
  firstResponseMs: { urgent: 1 * HOUR, high: 4 * HOUR, normal: 8 * HOUR, low: 24 * HOUR },
  resolutionMs: { urgent: 8 * HOUR, high: 24 * HOUR, normal: 3 * DAY, low: 7 * DAY },
  autoCloseAfterMs: 7 * DAY,
  autoCloseWarningMs: 2 * DAY,
  reopenWindowMs: 30 * DAY,
};

export interface TicketInput {
  tenantId: string;
  ticketId: string;
  customerId: string;
  priority: TicketPriority;
  timeline: TicketTimeline;
  /** Set by continue-as-new: the ticket so far. */
  carried?: TicketCarried;
}

/** What the workflow keeps of a ticket (continue-as-new carries it). */
export interface TicketCarried {
  version: number;
  status: TicketStatus;
  priority: TicketPriority;
  assigneeId: string | null;
  /** 1 when opened, one more per reopening: part of escalation email keys. */
  round: number;
  /** When the current round began (the SLA clock counts from it). */
  roundStartedAt: number;
  /** The last message taken into account (messages are numbered per ticket). */
  processedSeq: number;
  firstRespondedAt: number | null;
  firstResponseEscalatedAt: number | null;
  resolutionEscalatedAt: number | null;
  /** Time the resolution clock stood still in this round (waiting on the customer). */
  pausedMs: number;
  waitingSince: number | null;
  /** The staff message that began the current wait (part of the warning's email key). */
  waitingFromSeq: number | null;
  autoCloseWarnedAt: number | null;
  closedAt: number | null;
  closeReason: string | null;
  mergedIntoId: string | null;
}

/** The ticket as the API shows it after an Update (every Update answers it). */
export interface TicketView {
  ticketId: string;
  status: TicketStatus;
  priority: TicketPriority;
  assigneeId: string | null;
  version: number;
  mergedIntoId: string | null;
}

/** A snapshot the workflow records in `tickets`. */
export interface TicketRecord {
  tenantId: string;
  ticketId: string;
  carried: TicketCarried;
  firstResponseDueAt: number | null;
  resolutionDueAt: number | null;
  autoCloseAt: number | null;
}

/** A message the workflow has not taken into account yet (its body stays in Postgres). */
export interface PendingMessage {
  seq: number;
  authorKind: 'customer' | 'staff' | 'system';
}

/** The emails a ticket sends; each has its business key, so each goes out once. */
export type TicketEmail =
  | { kind: 'message'; seq: number }
  | { kind: 'first-response-escalation'; round: number; dueAt: number }
  | { kind: 'resolution-escalation'; round: number; dueAt: number }
  | { kind: 'auto-close-warning'; fromSeq: number; closesAt: number }
  | { kind: 'auto-closed'; fromSeq: number }
  | { kind: 'assigned'; version: number; assigneeId: string };

export interface SetPriority {
  by: string;
  priority: TicketPriority;
}
export interface Assign {
  by: string;
  /** A staff member who may answer tickets, or null to unassign. */
  assigneeId: string | null;
}
export interface CloseTicket {
  by: string;
  reason: string;
}
export interface MergeTicket {
  by: string;
  intoId: string;
}

/** An organization's changes to the default timeline (tests scale every duration down). */
export type TicketTimelineConfig = Partial<Omit<TicketTimeline, 'firstResponseMs' | 'resolutionMs'>> & {
  firstResponseMs?: Partial<Record<TicketPriority, number>>;
  resolutionMs?: Partial<Record<TicketPriority, number>>;
};
