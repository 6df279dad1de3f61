import { OrderSignal, WorkflowId } from '@keelson/common/constants';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { KycActivities } from '../../activities/kyc/index';
import type { SuspensionActivities } from '../../activities/suspension/index';
import {
  KYC_TERMINAL,
  type KycCarried,
  type KycCaseInput,
  type KycCaseView,
  type KycDecision,
  type KycRevoke,
  type KycState,
  type KycSubmit,
  type ProviderDecision,
} from '../../activities/kyc/types';
import { sendEmail } from '../mail/send-email';

/**
 * A customer's KYC case (`kyc/<customer>`), docs/decisions/0023-kyc.md:
 *
 *   awaiting_documents ──submit──▶ submitted ──▶ in_review ──approve──▶ approved ──valid-until──▶ expired
 *        ▲    │ reminders, expiry                  │ SLA escalation          │ re-verification asked ahead
 *        │    └──documents due──▶ expired          ├──reject──▶ rejected (may resubmit: waits again)
 *        └───────────────────────────────────────────┘ └──reject final──▶ rejected_final
 *                                                    approved ──revoke──▶ revoked
 *
 * Reviewer decisions are Workflow Updates whose validators refuse what a reviewer may not do,
 * so a refused decision leaves no history. An external provider's decisions arrive as signals
 * and apply only when newer (provider time) than the last one applied. Documents are ids here;
 * their content is sealed in Postgres and deleted by the retention rule after each decision.
 * Emails go through the shared mail module, keyed by case, round and step: each goes out once.
 *
 * A case that was approved and ends otherwise — revoked, the approval run out, rejected for good
 * on re-verification — holds every service of the customer for reason `kyc` (decision 0030); an
 * approval, of this case or of a later one, lifts those holds and only those.
 */

export const submitUpdate = defineUpdate<KycCaseView, [KycSubmit]>('submit');
export const decideUpdate = defineUpdate<KycCaseView, [KycDecision]>('decide');
export const revokeUpdate = defineUpdate<KycCaseView, [KycRevoke]>('revoke');
export const providerDecisionSignal = defineSignal<[ProviderDecision]>('providerDecision');
/** A start for a customer whose run is still finishing retention after its case ended: open a new case. */
export const reopenSignal = defineSignal<[{ by: string; staff: boolean }]>('reopen');
export const kycStateQuery = defineQuery<KycCaseView>('kycState');

const db = proxyLocalActivities<KycActivities>({ startToCloseTimeout: '30s', localRetryThreshold: '10s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });
/**
 * Who to email, looked up in the background email chain. A regular activity: a local one there
 * runs beside the main loop's local activities, and the order they finish in live is not the
 * order replay sees, so a restarted worker failed the case with a nondeterminism error.
 */
const lookup = proxyActivities<KycActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });
/** Holding and releasing the customer's services: writes and signals, through the suspension module. */
const suspension = proxyActivities<SuspensionActivities>({ startToCloseTimeout: '1m', retry: { initialInterval: '500ms', maximumInterval: '10s' } });
/**
 * Which services the customer's `kyc` holds still hold: one query, asked on every approval before
 * the reviewer's answer, so a local activity (a trip through the task queue showed in the answer).
 */
const suspensionLookup = proxyLocalActivities<SuspensionActivities>({ startToCloseTimeout: '30s', localRetryThreshold: '10s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });
/** A KYC email is worth a few retries over minutes, not a day: the row records a failure. */
const emailDelivery = { startToCloseTimeout: '30s', retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 } } as const;

const waiting = (state: KycState) => state === 'awaiting_documents' || state === 'rejected';

export function freshCase(highRisk: boolean, now: number): KycCarried {
  return {
    caseId: uuid4(),
    version: 0,
    state: 'awaiting_documents',
    waitingSince: now,
    round: 1,
    remindersSent: 0,
    highRisk,
    approvals: [],
    reason: null,
    decidedBy: null,
    decidedAt: null,
    submittedAt: null,
    reviewDueAt: null,
    escalatedAt: null,
    validUntil: null,
    reverificationRequestedAt: null,
    providerDecisionAt: null,
    documents: [],
    documentsExpireAt: null,
    deletions: [],
  };
}

export async function kycCase(input: KycCaseInput): Promise<KycCaseView> {
  const t = input.timeline;
  const workflowId = WorkflowId.kycCase(input.customerId);
  // A case reopened by continue-as-new starts from a fresh snapshot (version 0): it is recorded as opened too.
  const isNew = !input.carried || (input.carried.version === 0 && patched('kyc-reopened-case-recorded'));
  const s: KycCarried = input.carried ?? freshCase(input.highRisk, Date.now());
  const providerInbox: ProviderDecision[] = [];
  let reopen: { by: string; staff: boolean } | null = null;
  let dirty = false;

  const view = (): KycCaseView => ({ caseId: s.caseId, customerId: input.customerId, state: s.state, version: s.version, highRisk: s.highRisk, approvals: s.approvals, reason: s.reason });
  const expiresAt = () => (waiting(s.state) ? s.waitingSince + t.documentsDueMs : s.state === 'approved' ? s.validUntil : null);

  async function record(event: string, actor: string | null, detail: string | null = null): Promise<void> {
    s.version++;
    // A copy: the snapshot must not change under the activity while it is scheduled.
    await db.recordKycCase({ tenantId: input.tenantId, customerId: input.customerId, workflowId, carried: JSON.parse(JSON.stringify(s)) as KycCarried, expiresAt: expiresAt(), event: { event, actor, detail, at: Date.now() } });
  }

  /**
   * Orders waiting for this customer's approval (decision 0028) hear of an approval or an end at
   * once. It runs after the decision is recorded: an order reads the case after marking itself
   * waiting, so between the two it is never missed.
   */
  async function tellWaitingOrders(): Promise<void> {
    if (!patched('kyc-tells-waiting-orders')) return;
    const ids = await db.ordersAwaitingKyc({ tenantId: input.tenantId, customerId: input.customerId });
    for (const id of ids) {
      await getExternalWorkflowHandle(WorkflowId.order(id))
        .signal(OrderSignal.kycDecided, { state: s.state })
        .catch(() => undefined); // an order that finished meanwhile has nothing to hear
    }
  }

  const holdSource = `kyc:${input.customerId}`;
  /**
   * The approval is gone (revoked, run out, rejected for good): every service of the customer is
   * held for `kyc` until an approval lifts it. Answers whether this code path applies (patched).
   */
  async function holdServices(by: string, why: string): Promise<boolean> {
    if (!patched('kyc-holds-services')) return false;
    const services = await suspension.suspensionServicesOfCustomer({ tenantId: input.tenantId, customerId: input.customerId });
    if (services.length) {
      await suspension.suspensionHold({ tenantId: input.tenantId, resources: services, reason: 'kyc', source: holdSource, note: why, actor: by });
      await record('services_suspended', null, `${services.length} service(s) held until the identity is verified again`);
    }
    return true;
  }

  /** An approval lifts the `kyc` holds of the customer's services (other reasons stay). */
  async function releaseServices(by: string): Promise<void> {
    if (!patched('kyc-holds-services')) return;
    const lookup = { tenantId: input.tenantId, reason: 'kyc' as const, source: holdSource };
    const held = patched('kyc-held-by-local') ? await suspensionLookup.suspensionHeldBy(lookup) : await suspension.suspensionHeldBy(lookup);
    if (!held.length) return;
    const { lifted } = await suspension.suspensionLift({ tenantId: input.tenantId, resources: held.map((h) => ({ resource: h.resource, customerId: input.customerId })), reason: 'kyc', source: holdSource, actor: by });
    if (lifted.length) await record('services_released', null, `${lifted.length} service(s) no longer held for KYC`);
  }

  /** Emails go out in order, in the background: a slow SMTP server never holds the case. */
  let outbox: Promise<void> = Promise.resolve();
  function email(to: 'customer' | 'reviewers', key: string, subject: (name: string) => string, text: (name: string) => string): void {
    outbox = outbox.then(async () => {
      const who = patched('kyc-recipients-as-activity')
        ? await lookup.kycRecipients({ tenantId: input.tenantId, customerId: input.customerId })
        : await db.kycRecipients({ tenantId: input.tenantId, customerId: input.customerId });
      const recipients = to === 'customer' ? who.customer : who.reviewers;
      if (!recipients.length) return;
      await sendEmail(
        { tenantId: input.tenantId, kind: 'kyc', key, to: recipients, subject: subject(who.customerName), text: text(who.customerName), resource: `customer:${input.customerId}` },
        { deliver: emailDelivery },
      ).catch(() => undefined); // a failed email is recorded on its row; the case goes on
    });
  }

  /**
   * Before the run ends or continues as new: every email queued is sent and every handler is
   * done. A handler changes the state before it awaits (a revocation is `revoked` at once), so the
   * loop may see the case ended while the handler still runs and queues its email afterwards:
   * the outbox is awaited again until no handler added to it.
   */
  async function settle(): Promise<void> {
    for (;;) {
      const queued = outbox;
      await queued;
      await condition(allHandlersFinished);
      if (queued === outbox || !patched('kyc-outbox-after-handlers')) return;
    }
  }

  /** Documents of a decided submission are deleted after the retention period. */
  function retain(): void {
    if (s.documents.length) s.deletions.push({ documentIds: s.documents, at: Date.now() + t.retentionMs });
    s.documents = [];
    s.documentsExpireAt = null;
  }

  function startWaiting(): void {
    s.waitingSince = Date.now();
    s.round++;
    s.remindersSent = 0;
  }

  async function approve(by: string, detail: string | null): Promise<void> {
    const now = Date.now();
    s.state = 'approved';
    s.decidedBy = by;
    s.decidedAt = now;
    s.reason = null;
    s.validUntil = Math.min(now + t.validForMs, s.documentsExpireAt ?? Infinity);
    s.reverificationRequestedAt = null;
    s.reviewDueAt = null;
    retain();
    await record('approved', by, detail);
    await tellWaitingOrders();
    await releaseServices(by);
    email('customer', `${s.caseId}/${s.round}/approved`, () => 'Your identity verification is approved', (name) => `Hello ${name},\n\nyour identity verification is approved. Your services can now be provisioned.\n`);
  }

  async function reject(by: string, reason: string, final: boolean): Promise<void> {
    s.decidedBy = by;
    s.decidedAt = Date.now();
    s.reason = reason;
    s.approvals = [];
    s.reviewDueAt = null;
    retain();
    if (final) {
      const hadApproval = s.validUntil !== null;
      s.state = 'rejected_final';
      await record('rejected_final', by, reason);
      await tellWaitingOrders();
      if (hadApproval) await holdServices(by, `identity verification rejected for good: ${reason}`);
    } else {
      s.state = 'rejected';
      startWaiting();
      await record('rejected', by, reason);
    }
    email(
      'customer',
      `${s.caseId}/${s.round}/${final ? 'rejected-final' : 'rejected'}`,
      () => (final ? 'Your identity verification was rejected' : 'Your identity verification needs new documents'),
      (name) => `Hello ${name},\n\n${final ? 'your identity verification was rejected for good' : 'your identity verification was not accepted; please upload new documents'}.\nReason: ${reason}\n`,
    );
  }

  async function expire(why: string): Promise<void> {
    const hadApproval = s.validUntil !== null;
    s.state = 'expired';
    retain();
    await record('expired', null, why);
    await tellWaitingOrders();
    if (hadApproval && (await holdServices('system', `identity verification expired: ${why}`))) {
      email(
        'customer',
        `${s.caseId}/expired`,
        () => 'Your identity verification expired',
        (name) => `Hello ${name},\n\nyour identity verification expired (${why}). Your services are suspended until you verify your identity again: please upload current documents in the customer portal.\n`,
      );
    }
  }

  // A decision in progress holds further decisions until it is recorded.
  let deciding = false;
  setHandler(kycStateQuery, view);
  setHandler(
    submitUpdate,
    async ({ by, documentIds }) => {
      deciding = true;
      try {
        const attached = await db.attachKycDocuments({ tenantId: input.tenantId, customerId: input.customerId, caseId: s.caseId, documentIds });
        if (!attached.attached.length) return view();
        s.documents = attached.attached;
        s.documentsExpireAt = attached.expiresAt;
        s.submittedAt = Date.now();
        s.state = 'submitted';
        s.reason = null;
        s.approvals = [];
        await record('submitted', by, `${attached.attached.length} document(s)`);
        // The built-in manual review: the case joins the reviewers' queue at once.
        s.state = 'in_review';
        s.reviewDueAt = Date.now() + t.reviewSlaMs;
        s.escalatedAt = null;
        await record('in_review', null);
        dirty = true;
        return view();
      } finally {
        deciding = false;
      }
    },
    {
      validator: ({ by, documentIds }) => {
        if (!by) throw new Error('submit needs { by }');
        if (deciding) throw new Error('the case is being changed; try again');
        const reverifying = s.state === 'approved' && s.reverificationRequestedAt !== null;
        if (!waiting(s.state) && !reverifying) throw new Error(`documents can be submitted while the case waits for them; it is ${s.state}`);
        if (!Array.isArray(documentIds) || documentIds.length === 0) throw new Error('submit at least one uploaded document');
      },
    },
  );
  setHandler(
    decideUpdate,
    async (d) => {
      deciding = true;
      try {
        const reason = d.reason?.trim() ?? '';
        if (d.decision === 'reject') await reject(d.by, reason, d.final === true);
        else {
          s.approvals = [...s.approvals, { by: d.by, at: new Date().toISOString() }];
          if (s.highRisk && s.approvals.length < 2) await record('first_approval', d.by, 'a second reviewer must approve this high-risk customer');
          else await approve(d.by, reason || null);
        }
        dirty = true;
        return view();
      } finally {
        deciding = false;
      }
    },
    {
      validator: (d) => {
        if (deciding) throw new Error('another decision is being recorded; try again');
        if (s.state !== 'in_review') throw new Error(`only a case in review can be decided; this one is ${s.state}`);
        if (!d?.by) throw new Error('a decision needs { by }');
        if (d.decision !== 'approve' && d.decision !== 'reject') throw new Error('decision must be approve or reject');
        if ((d.reviewerCustomerIds ?? []).includes(input.customerId)) throw new Error('a reviewer cannot decide the case of a customer they belong to');
        if (d.decision === 'reject' && !d.reason?.trim()) throw new Error('a rejection needs a reason');
        if (d.decision === 'approve' && s.approvals.some((a) => a.by === d.by)) throw new Error('this high-risk customer needs a second approval by another reviewer');
      },
    },
  );
  setHandler(
    revokeUpdate,
    async ({ by, reason }) => {
      deciding = true;
      try {
        s.state = 'revoked';
        s.reason = reason.trim();
        s.decidedBy = by;
        s.decidedAt = Date.now();
        s.validUntil = null;
        await record('revoked', by, s.reason);
        await tellWaitingOrders();
        if (await holdServices(by, `identity verification withdrawn: ${s.reason}`)) {
          const why = s.reason;
          email(
            'customer',
            `${s.caseId}/revoked`,
            () => 'Your identity verification was withdrawn',
            (name) => `Hello ${name},\n\nyour identity verification was withdrawn.\nReason: ${why}\n\nYour services are suspended until you verify your identity again: please upload current documents in the customer portal.\n`,
          );
        }
        dirty = true;
        return view();
      } finally {
        deciding = false;
      }
    },
    {
      validator: ({ by, reason, reviewerCustomerIds }) => {
        if (deciding) throw new Error('another decision is being recorded; try again');
        if (s.state !== 'approved') throw new Error(`only an approved case can be revoked; this one is ${s.state}`);
        if (!by) throw new Error('revoke needs { by }');
        if ((reviewerCustomerIds ?? []).includes(input.customerId)) throw new Error('a reviewer cannot decide the case of a customer they belong to');
        if (!reason?.trim()) throw new Error('revoking needs a reason');
      },
    },
  );
  setHandler(providerDecisionSignal, (d) => {
    providerInbox.push(d);
    dirty = true;
  });
  setHandler(reopenSignal, (r) => {
    reopen = r;
    dirty = true;
  });

  /** Provider decisions apply in provider time order, and never one older than the last applied. */
  async function applyProviderDecisions(): Promise<void> {
    for (const d of providerInbox.splice(0).sort((a, b) => a.decidedAtMs - b.decidedAtMs)) {
      if (KYC_TERMINAL.includes(s.state) && s.state !== 'rejected_final') continue;
      if (s.providerDecisionAt !== null && d.decidedAtMs <= s.providerDecisionAt) continue;
      s.providerDecisionAt = d.decidedAtMs;
      const by = `provider:${d.provider}`;
      if (d.answer === 'GREEN') await approve(by, `event ${d.eventId}`);
      else await reject(by, d.comment?.trim() || 'rejected by the verification provider', d.rejectType === 'FINAL');
    }
  }

  function nextWake(): number | null {
    const times: number[] = s.deletions.map((d) => d.at);
    if (waiting(s.state)) {
      const next = t.remindersMs[s.remindersSent];
      if (next !== undefined) times.push(s.waitingSince + next);
      times.push(s.waitingSince + t.documentsDueMs);
    }
    if (s.state === 'in_review' && s.escalatedAt === null && s.reviewDueAt !== null) times.push(s.reviewDueAt);
    if (s.state === 'approved' && s.validUntil !== null) {
      if (s.reverificationRequestedAt === null) times.push(s.validUntil - t.reverifyAheadMs);
      times.push(s.validUntil);
    }
    return times.length ? Math.min(...times) : null;
  }

  if (isNew) {
    await record('opened', input.actor, s.highRisk ? 'high-risk customer: two approvals needed' : null);
    email('customer', `${s.caseId}/opened`, () => 'Please verify your identity', (name) => `Hello ${name},\n\nplease upload your identity documents in the customer portal to complete verification.\n`);
  }

  for (;;) {
    if (KYC_TERMINAL.includes(s.state) && reopen !== null) {
      const r: { by: string; staff: boolean } = reopen;
      reopen = null;
      // A customer rejected for good needs staff to open a new case.
      if (s.state !== 'rejected_final' || r.staff) {
        await settle();
        await continueAsNew<typeof kycCase>({ ...input, actor: r.by, carried: { ...freshCase(s.highRisk, Date.now()), deletions: s.deletions } });
      }
    }
    reopen = null;
    if (KYC_TERMINAL.includes(s.state) && s.deletions.length === 0 && providerInbox.length === 0) break;
    if (workflowInfo().continueAsNewSuggested && !deciding && providerInbox.length === 0) {
      await settle();
      await continueAsNew<typeof kycCase>({ ...input, carried: s });
    }
    const wake = nextWake();
    await condition(() => dirty && !deciding, wake === null ? undefined : Math.max(1, wake - Date.now()));
    dirty = false;
    await applyProviderDecisions();
    const now = Date.now();

    if (waiting(s.state)) {
      const due = s.waitingSince + t.documentsDueMs;
      if (now >= due) await expire('documents were not submitted in time');
      else
        while (s.remindersSent < t.remindersMs.length && now >= s.waitingSince + t.remindersMs[s.remindersSent]!) {
          const n = ++s.remindersSent;
          email(
            'customer',
            `${s.caseId}/${s.round}/reminder-${n}`,
            () => `Reminder: your identity documents are missing`,
            (name) => `Hello ${name},\n\nwe still need your identity documents to complete verification (reminder ${n}). Please upload them in the customer portal before ${new Date(due).toISOString()}.\n`,
          );
        }
    }
    if (s.state === 'in_review' && s.escalatedAt === null && s.reviewDueAt !== null && now >= s.reviewDueAt) {
      s.escalatedAt = now;
      await record('escalated', null, 'the review is past its SLA');
      email(
        'reviewers',
        `${s.caseId}/${s.round}/escalation`,
        (name) => `KYC review overdue: ${name}`,
        (name) => `The identity verification of ${name} has waited for a review since ${new Date(s.submittedAt ?? now).toISOString()}, past its SLA.\n`,
      );
    }
    if (s.state === 'approved' && s.validUntil !== null) {
      if (now >= s.validUntil) await expire('the approval ran out');
      else if (s.reverificationRequestedAt === null && now >= s.validUntil - t.reverifyAheadMs) {
        s.reverificationRequestedAt = now;
        await record('reverification_requested', null, `valid until ${new Date(s.validUntil).toISOString()}`);
        email(
          'customer',
          `${s.caseId}/${s.decidedAt}/reverify`,
          () => 'Please verify your identity again',
          (name) => `Hello ${name},\n\nyour identity verification is valid until ${new Date(s.validUntil!).toISOString()}. Please upload current documents in the customer portal before then.\n`,
        );
      }
    }
    const due = s.deletions.filter((d) => d.at <= now);
    if (due.length) {
      await db.deleteKycDocuments({ tenantId: input.tenantId, documentIds: due.flatMap((d) => d.documentIds) });
      s.deletions = s.deletions.filter((d) => d.at > now);
    }
  }
  await settle();
  return view();
}
