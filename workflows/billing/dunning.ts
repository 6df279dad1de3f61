import {
  CancellationScope,
  condition,
  continueAsNew,
  defineSignal,
  executeChild,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BillingActivities } from '@keelson/activities/billing/index';
import type { DunningActivities, PlannedStep } from '@keelson/activities/billing/dunning';
import type { MailActivities } from '@keelson/activities/mail/index';
import type { PaymentActivities } from '@keelson/activities/payments/index';
import type { SuspensionActivities } from '@keelson/activities/suspension/index';
import { DunningSignal, resourceRef, WorkflowId, type InvoicePaidSignal } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import type { DunningStepOutcome } from '@keelson/db/schema';
import { awaitApproval } from '../approval';
import { containerRemove } from '../container-remove';
import { deliverCalls } from '../mail/send-email';
import type { RunContext } from '../run-context';
import { vmDestroy } from '../vm-lifecycle';

/**
 * An unpaid invoice's dunning ladder, `dunning/<invoice>` (decision 0027), started once when the
 * invoice is finalized with a due date. It walks the organization's ladder as planned at the
 * start — by default a reminder on the due date, D+3 a reminder and a card retry, D+7 the final
 * notice, D+10 the services suspended (reason `overdue`), D+30 the services terminated (after an
 * approval, when the organization wants one). Before every step it reads the invoice again: paid
 * or void ends the ladder.
 *
 * `invoicePaid` (sent by the payments side and by `POST /api/invoices/{id}/mark-paid`) ends it
 * at once. On the way out of a paid or void invoice it lifts only the `overdue` holds this
 * invoice's ladder made and waits for the services to run again — a service suspended by staff
 * or for KYC stays suspended.
 *
 * Exactly once: each email has the business key `<invoice>/<position>` (the mail module sends it
 * once, with a fixed Message-ID); each step is recorded once; suspension and termination go
 * through the services' suspension runs and child runs with business ids.
 */

export const invoicePaidSignal = defineSignal<[InvoicePaidSignal?]>(DunningSignal.invoicePaid);

export interface DunningInput extends RunContext {
  invoiceId: string;
}

export type DunningOutcome = 'paid' | 'void' | 'terminated' | 'not_started' | 'ended';

const db = proxyActivities<DunningActivities & SuspensionActivities & Pick<BillingActivities, 'billingCancelSubscription'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', maximumInterval: '30s' },
});
/**
 * The ladder's own bookkeeping (its plan, its services, the invoice's status, each step's email
 * row and record): short keyed Postgres reads and writes, each safe to repeat, run as local
 * activities inside the workflow task that needs them rather than as activity tasks of their own,
 * each a round trip through Temporal with a workflow task after it. Since BOOKKEEPING_LOCAL.
 */
const bookkeeping = proxyLocalActivities<DunningActivities & Pick<SuspensionActivities, 'suspensionServicesOf'>>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { initialInterval: '500ms', maximumInterval: '30s' },
});
/** The ladder's bookkeeping runs as local activities (runs started before keep activity tasks). */
const BOOKKEEPING_LOCAL = 'dunning-local-bookkeeping';
const mail = proxyActivities<MailActivities>(deliverCalls);
/**
 * An off-session charge: one Stripe request (its client gives up after 20 s) under the attempt's
 * row lock. The timeout is also how long a charge whose worker died waits before it is tried
 * again (with the same Idempotency-Key), so it is that request's bound plus the bookkeeping
 * around it, not more.
 */
const payments = proxyActivities<PaymentActivities>({ startToCloseTimeout: '45s', retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10 } });
/** Waiting for a service's suspension run to have stopped or started it: polled, for as long as it takes. */
const waitFor = proxyActivities<SuspensionActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '1s', backoffCoefficient: 1.5, maximumInterval: '30s' } });

export async function dunningLadder(input: DunningInput): Promise<{ outcome: DunningOutcome }> {
  const { tenantId, invoiceId } = input;
  const ids = { tenantId, invoiceId };
  let paid: InvoicePaidSignal | null = null;
  setHandler(invoicePaidSignal, (p) => void (paid ??= p ?? {}));
  // Decided once, before the first command: a run keeps the kind it started with.
  const book = patched(BOOKKEEPING_LOCAL) ? bookkeeping : db;

  const plan = await book.dunningStart(ids);
  if (!plan.active) {
    log.info('no dunning for this invoice', { invoiceId, reason: plan.reason });
    return { outcome: 'not_started' };
  }
  // Timers count workflow time; the plan's times are the billing clock's (injectable in tests).
  const skew = Date.parse(plan.now) - Date.now();
  const clock = () => Date.now() + skew;
  const services = plan.subscriptionId ? await book.suspensionServicesOf({ tenantId, subscriptionIds: [plan.subscriptionId] }) : [];
  const source = `invoice:${invoiceId}`;
  const record = (step: PlannedStep, outcome: DunningStepOutcome, note = '', emailId: string | null = null) => book.dunningRecordStep({ ...ids, position: step.position, outcome, note, emailId });

  let ended: 'paid' | 'void' | null = null;
  const checkInvoice = async () => {
    if (paid) return (ended = 'paid');
    const { status } = await book.dunningInvoice(ids);
    if (status === 'paid') return (ended = 'paid');
    if (status === 'void' || status === 'missing') return (ended = 'void');
    return null;
  };

  for (const step of plan.steps) {
    if (step.doneAt) continue;
    const wait = Date.parse(step.scheduledAt) - clock();
    if (wait > 0) await condition(() => paid !== null, wait);
    if (await checkInvoice()) break;

    switch (step.kind) {
      case 'reminder':
      case 'final_notice': {
        const suspendAt = plan.steps.find((s) => s.kind === 'suspend' && s.position > step.position)?.scheduledAt ?? null;
        const { emailId } = await book.dunningQueueEmail({ ...ids, position: step.position, kind: step.kind, suspendOn: suspendAt });
        if (!emailId) {
          await record(step, 'skipped', 'the customer has no billing email');
          break;
        }
        try {
          await mail.deliverEmail({ tenantId, emailId });
          await record(step, 'sent', '', emailId);
        } catch (err) {
          // A refused or unconfigured email does not stop the ladder; the step says why.
          await record(step, 'failed', (err as Error).message, emailId);
        }
        break;
      }
      case 'retry': {
        // Attempt n of the invoice's off-session charges: one attempt row and one Idempotency-Key
        // per n on the payments side, so a repeated step never charges twice (decision 0026).
        const attempt = plan.steps.filter((s) => s.kind === 'retry' && s.position <= step.position).length;
        try {
          const charge = await payments.billingChargeInvoice({ tenantId, invoiceId, attempt });
          const why = charge.message ?? charge.declineCode ?? '';
          if (charge.outcome === 'succeeded') await record(step, 'charged', charge.alreadyPaid ? 'the invoice owed nothing' : `attempt ${attempt} paid`);
          else if (charge.outcome === 'processing') await record(step, 'charged', `attempt ${attempt} processing; the payment's run settles it`);
          else if (charge.outcome === 'no_payment_method') await record(step, 'skipped', why || 'no card on file');
          else await record(step, 'declined', `${charge.outcome === 'hard_decline' ? 'declined for good, not retried' : 'declined, retried at the next retry'}${why ? `: ${why}` : ''}`);
        } catch (err) {
          await record(step, 'failed', (err as Error).message);
        }
        break;
      }
      case 'suspend': {
        if (!services.length) {
          await record(step, 'skipped', 'the invoice has no service to suspend');
          break;
        }
        const { holdIds } = await db.suspensionHold({ tenantId, resources: services, reason: 'overdue', source, note: `invoice ${plan.number} unpaid`, actor: input.actor });
        // Recorded only once the services are stopped.
        const { gone } = await waitFor.suspensionAwait({ tenantId, holdIds, until: 'suspended' });
        await record(step, 'suspended', gone.length ? `${gone.length} service(s) no longer exist` : `${holdIds.length} service(s) suspended`);
        break;
      }
      case 'terminate': {
        if (!services.length) {
          await record(step, 'skipped', 'the invoice has no service to terminate');
          break;
        }
        const decision = plan.terminationApproval ? await approveTermination(plan.number, () => paid !== null) : 'approved';
        if (decision === 'paid') break;
        if (decision !== 'approved') {
          await record(step, 'rejected', `termination ${decision}; the services stay suspended`);
          break;
        }
        // A payment that came in while the approval was asked for wins over the termination.
        if (await checkInvoice()) break;
        const notes = await terminate(input, services);
        await record(step, 'terminated', notes.join('; '));
        return { outcome: 'terminated' };
      }
    }
  }

  // Every step done and the invoice still open: wait for a payment (or a void), reading the
  // invoice every `recheckMs` (once a ladder day unless the worker says otherwise) in case a
  // signal was lost. (A plan recorded before recheckMs existed has only dayMs.)
  while (!ended) {
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof dunningLadder>(input);
    await condition(() => paid !== null, plan.recheckMs ?? plan.dayMs);
    await checkInvoice();
  }
  await restore(input, services.map((s) => ({ resource: s.resource, customerId: s.customerId })), source);
  return { outcome: ended };
}

/**
 * Lifts the `overdue` holds this invoice's ladder made, and waits until their services run again
 * (a service another reason still holds counts as done: it stays suspended).
 */
async function restore(input: DunningInput, resources: Array<{ resource: string; customerId: string }>, source: string): Promise<void> {
  const holds = await db.dunningHolds({ tenantId: input.tenantId, invoiceId: input.invoiceId });
  if (!holds.length) return;
  const held = resources.filter((r) => holds.some((h) => h.resource === r.resource));
  await db.suspensionLift({ tenantId: input.tenantId, resources: held, reason: 'overdue', source, actor: input.actor });
  await waitFor.suspensionAwait({ tenantId: input.tenantId, holdIds: holds.map((h) => h.id), until: 'restored' });
}

/** Asks a person with billing rights to approve the termination; a payment meanwhile withdraws the question. */
async function approveTermination(number: string, isPaid: () => boolean): Promise<'approved' | 'rejected' | 'expired' | 'canceled' | 'paid'> {
  const scope = new CancellationScope();
  const asked = scope.run(() => awaitApproval({ prompt: `Terminate the services of unpaid invoice ${number}? They are destroyed for good.` }));
  const outcome = await Promise.race([asked.then((d) => d.outcome).catch(() => 'canceled' as const), condition(isPaid).then(() => 'paid' as const)]);
  if (outcome === 'paid') {
    scope.cancel();
    await asked.catch(() => undefined);
  }
  return outcome;
}

/** Destroys the invoice's services through their own workflows, and cancels the subscription. */
async function terminate(input: DunningInput, services: Array<{ resource: string; subscriptionId: string; customerId: string }>): Promise<string[]> {
  const notes: string[] = [];
  const ctx = { tenantId: input.tenantId, actor: input.actor };
  for (const s of services) {
    const state = await db.suspensionState({ tenantId: input.tenantId, resource: s.resource });
    const target = state.target;
    const workflowId = WorkflowId.suspensionAction(s.resource, 'terminate', input.invoiceId);
    if (!target) {
      notes.push(`${s.resource} was already gone`);
    } else if (target.kind === 'proxmox_guest') {
      await executeChild(vmDestroy, {
        workflowId,
        args: [{ ...ctx, clusterId: target.clusterId, node: target.node, vmid: target.vmid, kind: target.guestKind, guestId: target.guestId, confirmName: target.name }],
        typedSearchAttributes: runSearchAttributes({ ...ctx, operation: 'vm.destroy', resources: [resourceRef('guest', target.guestId), resourceRef('customer', s.customerId), s.resource] }),
      });
      notes.push(`${target.guestKind === 'lxc' ? 'container' : 'VM'} ${target.name} destroyed`);
    } else if (target.kind === 'container') {
      await executeChild(containerRemove, {
        workflowId,
        args: [{ ...ctx, containerId: target.containerId, nodeId: target.nodeId }],
        typedSearchAttributes: runSearchAttributes({ ...ctx, operation: 'container.remove', resources: [resourceRef('container', target.containerId), resourceRef('customer', s.customerId), s.resource] }),
      });
      notes.push(`container ${target.name} removed`);
    } else {
      // Apps have no removal run of their own yet: the app stays suspended (its page says so).
      notes.push(`app ${target.name} left suspended (apps are not removed automatically)`);
    }
    await db.billingCancelSubscription({ tenantId: input.tenantId, subscriptionId: s.subscriptionId, when: 'now' });
  }
  return notes;
}
