import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { MailActivities } from '@keelson/activities/mail/index';
import type { TicketActivities } from '../../activities/tickets/index';
import {
  TICKET_FINAL,
  type Assign,
  type CloseTicket,
  type MergeTicket,
  type SetPriority,
  type TicketCarried,
  type TicketEmail,
  type TicketInput,
  type TicketView,
} from '../../activities/tickets/types';

/**
 * A support ticket (`ticket/<id>`), docs/decisions/0028-tickets-and-kyc-gating.md:
 *
 *   open ──staff reply──▶ waiting_on_customer ──(warning) … no answer──▶ closed ──reopen window──▶ archived
 *     ▲                        │ customer reply                           │ customer message
 *     └────────────────────────┴──────────────────────────────────────────┘ (a new round)
 *   any of them ──merge──▶ merged
 *
 * The SLA clock of a round (opening or reopening) gives a first-response and a resolution
 * deadline by priority; the resolution clock stands still while the ticket waits on the
 * customer. A deadline that passes escalates once. Messages are written by the API and numbered
 * per ticket; a `messages` signal wakes the run, which takes each message once, in order, and
 * emails the other side. Every email has a business key, so each goes out once whatever the worker
 * does; their text is built from Postgres by the activity, so history holds no message bodies.
 */

export const messagesSignal = defineSignal('messages');
export const setPriorityUpdate = defineUpdate<TicketView, [SetPriority]>('setPriority');
export const assignUpdate = defineUpdate<TicketView, [Assign]>('assign');
export const closeUpdate = defineUpdate<TicketView, [CloseTicket]>('close');
export const mergeUpdate = defineUpdate<TicketView, [MergeTicket]>('merge');
export const ticketStateQuery = defineQuery<TicketView>('ticketState');

/**
 * Postgres calls, retried until the database answers. Regular activities, not local ones: the
 * email chain runs beside the main loop, and a local activity finishing at another point on
 * replay than it did live reorders commands (a nondeterminism error after a worker restart).
 */
const db = proxyActivities<TicketActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });
/** One SMTP conversation (the claim on the email is its timeout); an unreachable server is retried for hours. */
const mail = proxyActivities<MailActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 40 } });

export function freshTicket(input: Pick<TicketInput, 'priority'>, now: number): TicketCarried {
  return {
    version: 0,
    status: 'open',
    priority: input.priority,
    assigneeId: null,
    round: 1,
    roundStartedAt: now,
    processedSeq: 0,
    firstRespondedAt: null,
    firstResponseEscalatedAt: null,
    resolutionEscalatedAt: null,
    pausedMs: 0,
    waitingSince: null,
    waitingFromSeq: null,
    autoCloseWarnedAt: null,
    closedAt: null,
    closeReason: null,
    mergedIntoId: null,
  };
}

export async function ticketLifecycle(input: TicketInput): Promise<TicketView> {
  const t = input.timeline;
  const { tenantId, ticketId } = input;
  const s: TicketCarried = input.carried ?? freshTicket(input, Date.now());
  let dirty = !input.carried; // a new ticket reads its first message at once
  let busy = false;

  const view = (): TicketView => ({ ticketId, status: s.status, priority: s.priority, assigneeId: s.assigneeId, version: s.version, mergedIntoId: s.mergedIntoId });
  const active = () => s.status === 'open' || s.status === 'waiting_on_customer';
  const firstResponseDueAt = () => (active() && s.firstRespondedAt === null ? s.roundStartedAt + t.firstResponseMs[s.priority] : null);
  const resolutionDueAt = () => (s.status === 'open' ? s.roundStartedAt + s.pausedMs + t.resolutionMs[s.priority] : null);
  /**
   * When a ticket waiting on the customer closes: after the wait, and never before the warning
   * had its full time (a worker that was down past both sends the warning first, then waits).
   */
  const autoCloseAt = () => {
    if (s.status !== 'waiting_on_customer' || s.waitingSince === null) return null;
    const base = s.waitingSince + t.autoCloseAfterMs;
    return s.autoCloseWarnedAt === null ? base : Math.max(base, s.autoCloseWarnedAt + t.autoCloseWarningMs);
  };

  async function record(): Promise<void> {
    s.version++;
    // A copy: the snapshot must not change under the activity while it is scheduled.
    await db.recordTicket({ tenantId, ticketId, carried: JSON.parse(JSON.stringify(s)) as TicketCarried, firstResponseDueAt: firstResponseDueAt(), resolutionDueAt: resolutionDueAt(), autoCloseAt: autoCloseAt() });
  }

  /** Emails go out in order, in the background: a slow SMTP server never holds the ticket. */
  let outbox: Promise<void> = Promise.resolve();
  function email(e: TicketEmail): void {
    outbox = outbox.then(async () => {
      const queued = await db.queueTicketEmail({ tenantId, ticketId, email: e });
      if (queued) await mail.deliverEmail({ tenantId, emailId: queued.emailId }).catch(() => undefined); // a failed email is recorded on its row
    });
  }

  function startWaiting(seq: number, now: number): void {
    if (s.status === 'open') s.status = 'waiting_on_customer';
    s.waitingSince = now;
    s.waitingFromSeq = seq;
    s.autoCloseWarnedAt = null;
  }

  function stopWaiting(now: number): void {
    if (s.waitingSince !== null) s.pausedMs += now - s.waitingSince;
    s.waitingSince = null;
    s.waitingFromSeq = null;
    s.autoCloseWarnedAt = null;
  }

  function reopen(now: number): void {
    s.status = 'open';
    s.round++;
    s.roundStartedAt = now;
    s.firstRespondedAt = null;
    s.firstResponseEscalatedAt = null;
    s.resolutionEscalatedAt = null;
    s.pausedMs = 0;
    s.closedAt = null;
    s.closeReason = null;
    s.waitingSince = null;
    s.waitingFromSeq = null;
    s.autoCloseWarnedAt = null;
  }

  function close(reason: string, now: number): void {
    s.status = 'closed';
    s.closedAt = now;
    s.closeReason = reason;
    s.waitingSince = null;
  }

  /** Takes each new message once, in order: it moves the ticket and emails the other side. */
  async function takeMessages(): Promise<void> {
    for (;;) {
      const pending = await db.pendingTicketMessages({ tenantId, ticketId, afterSeq: s.processedSeq });
      if (!pending.length) return;
      const now = Date.now();
      for (const m of pending) {
        s.processedSeq = m.seq;
        if (m.authorKind === 'customer') {
          if (s.status === 'closed') reopen(now);
          else if (s.status === 'waiting_on_customer') {
            stopWaiting(now);
            s.status = 'open';
          }
        } else if (m.authorKind === 'staff') {
          if (s.firstRespondedAt === null) s.firstRespondedAt = now;
          if (s.status === 'open' || s.status === 'closed') {
            if (s.status === 'closed') {
              s.closedAt = null;
              s.closeReason = null;
            }
            s.status = 'open';
            startWaiting(m.seq, now);
          } else if (s.status === 'waiting_on_customer') startWaiting(m.seq, now);
        }
        if (m.authorKind !== 'system') email({ kind: 'message', seq: m.seq });
      }
      await record();
    }
  }

  setHandler(ticketStateQuery, view);
  setHandler(messagesSignal, () => {
    dirty = true;
  });

  const notFinal = () => {
    if (busy) throw new Error('the ticket is being changed; try again');
    if (TICKET_FINAL.includes(s.status)) throw new Error(`the ticket is ${s.status}`);
  };
  async function change(apply: () => void): Promise<TicketView> {
    busy = true;
    try {
      apply();
      await record();
      dirty = true;
      return view();
    } finally {
      busy = false;
    }
  }
  setHandler(setPriorityUpdate, ({ priority }) => change(() => void (s.priority = priority)), {
    validator: ({ by, priority }) => {
      notFinal();
      if (!by) throw new Error('setPriority needs { by }');
      if (!(priority in t.firstResponseMs)) throw new Error('priority must be low, normal, high or urgent');
    },
  });
  setHandler(
    assignUpdate,
    ({ assigneeId }) =>
      change(() => {
        s.assigneeId = assigneeId;
        if (assigneeId) email({ kind: 'assigned', version: s.version + 1, assigneeId });
      }),
    {
      validator: ({ by }) => {
        notFinal();
        if (!by) throw new Error('assign needs { by }');
      },
    },
  );
  setHandler(closeUpdate, ({ reason }) => change(() => close(reason.trim() || 'closed by staff', Date.now())), {
    validator: ({ by }) => {
      notFinal();
      if (!by) throw new Error('close needs { by }');
      if (!active()) throw new Error(`only an open ticket can be closed; this one is ${s.status}`);
    },
  });
  setHandler(
    mergeUpdate,
    ({ intoId }) =>
      change(() => {
        s.status = 'merged';
        s.mergedIntoId = intoId;
        s.waitingSince = null;
      }),
    {
      validator: ({ by, intoId }) => {
        notFinal();
        if (!by) throw new Error('merge needs { by }');
        if (!intoId || intoId === ticketId) throw new Error('a ticket is merged into another ticket');
      },
    },
  );

  function nextWake(): number | null {
    const times: number[] = [];
    const fr = firstResponseDueAt();
    if (fr !== null && s.firstResponseEscalatedAt === null) times.push(fr);
    const res = resolutionDueAt();
    if (res !== null && s.resolutionEscalatedAt === null) times.push(res);
    const ac = autoCloseAt();
    if (ac !== null) times.push(s.autoCloseWarnedAt === null ? ac - t.autoCloseWarningMs : ac);
    if (s.status === 'closed' && s.closedAt !== null) times.push(s.closedAt + t.reopenWindowMs);
    return times.length ? Math.min(...times) : null;
  }

  async function checkClock(): Promise<void> {
    const now = Date.now();
    let changed = false;
    const fr = firstResponseDueAt();
    if (fr !== null && s.firstResponseEscalatedAt === null && now >= fr) {
      s.firstResponseEscalatedAt = now;
      email({ kind: 'first-response-escalation', round: s.round, dueAt: fr });
      changed = true;
    }
    const res = resolutionDueAt();
    if (res !== null && s.resolutionEscalatedAt === null && now >= res) {
      s.resolutionEscalatedAt = now;
      email({ kind: 'resolution-escalation', round: s.round, dueAt: res });
      changed = true;
    }
    const ac = autoCloseAt();
    if (ac !== null && s.waitingFromSeq !== null) {
      const fromSeq = s.waitingFromSeq;
      if (s.autoCloseWarnedAt === null) {
        if (now >= ac - t.autoCloseWarningMs) {
          s.autoCloseWarnedAt = now;
          email({ kind: 'auto-close-warning', fromSeq, closesAt: autoCloseAt()! });
          changed = true;
        }
      } else if (now >= ac) {
        close('no answer from the customer', now);
        email({ kind: 'auto-closed', fromSeq });
        changed = true;
      }
    }
    if (s.status === 'closed' && s.closedAt !== null && now >= s.closedAt + t.reopenWindowMs) {
      s.status = 'archived';
      changed = true;
    }
    if (changed) await record();
  }

  if (!input.carried) await record();
  for (;;) {
    if (TICKET_FINAL.includes(s.status)) break;
    if (workflowInfo().continueAsNewSuggested && !busy) {
      await outbox;
      await condition(allHandlersFinished);
      await continueAsNew<typeof ticketLifecycle>({ ...input, carried: s });
    }
    const wake = nextWake();
    const woken = await condition(() => dirty && !busy, wake === null ? undefined : Math.max(1, wake - Date.now()));
    if (woken) {
      dirty = false;
      await takeMessages();
    }
    await checkClock();
  }
  await outbox;
  await condition(allHandlersFinished);
  return view();
}
