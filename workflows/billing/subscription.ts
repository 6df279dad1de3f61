import type { BillingActivities, PlanChange, SubscriptionFacts } from '@keelson/activities/billing/index';
import { resourceRef, SubscriptionUpdate } from '@keelson/common/constants';
import { allHandlersFinished, ApplicationFailure, condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RunContext } from '../run-context';
import { startIssuing } from './invoice';

const db = proxyActivities<BillingActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });

export interface SubscriptionRunInput extends RunContext {
  subscriptionId: string;
  customerId: string;
  /** How long the run waits for another change before it ends (ms); the next change starts it again. */
  idleMs?: number;
}

export interface ChangePlanRequest {
  planId: string;
  /** The target plan's currency and what it provisions, as the API read them: judged here at once. */
  currency: string;
  provisions: string;
  /** The change's business key: a repeated request is the same change. */
  requestId: string;
}

export const changePlanUpdate = defineUpdate<PlanChange, [ChangePlanRequest]>(SubscriptionUpdate.changePlan);

const IDLE_MS = 10 * 60_000;

/**
 * A subscription's run (`subscription/<id>`), started by the first change asked of it (an
 * Update-with-start) and ended after a quiet while. Plan changes are Updates, handled one at a
 * time: the validator refuses, synchronously and without touching money, a change to the plan
 * the subscription is already on, to a plan of another currency or kind, or of a cancelled
 * subscription; an accepted change is prorated and invoiced (or credited) once, in one
 * transaction, and its document rendered and emailed by a run of its own.
 */
export async function subscriptionLifecycle(input: SubscriptionRunInput): Promise<{ changes: number }> {
  const { tenantId, subscriptionId } = input;
  let facts: SubscriptionFacts | null = null;
  let busy = false;
  let changes = 0;

  setHandler(
    changePlanUpdate,
    async (req) => {
      await condition(() => facts !== null && !busy);
      busy = true;
      try {
        const change = await db.billingChangePlan({ tenantId, subscriptionId, planId: req.planId, requestId: req.requestId });
        facts = { ...facts!, planId: change.toPlanId };
        const about = [resourceRef('subscription', subscriptionId), resourceRef('customer', input.customerId)];
        if (change.invoiceId) await startIssuing(input, { kind: 'invoice', id: change.invoiceId, reason: `change-${change.id}` }, about);
        if (change.creditNoteId) await startIssuing(input, { kind: 'credit_note', id: change.creditNoteId }, about);
        changes++;
        return change;
      } finally {
        busy = false;
      }
    },
    {
      validator: (req) => {
        // Before the facts are read the run cannot judge; the change's activity checks again anyway.
        if (!facts) return;
        if (facts.status === 'cancelled') throw ApplicationFailure.nonRetryable('the subscription is cancelled', 'PlanChangeInvalid');
        if (req.planId === facts.planId) throw ApplicationFailure.nonRetryable('planId: the subscription is already on this plan', 'PlanChangeInvalid');
        if (req.currency !== facts.currency) throw ApplicationFailure.nonRetryable(`planId: the plan is priced in ${req.currency}; the subscription is billed in ${facts.currency}`, 'PlanChangeInvalid');
        if (req.provisions !== facts.provisions) throw ApplicationFailure.nonRetryable(`planId: the plan provisions ${req.provisions}, the subscription's plan ${facts.provisions}`, 'PlanChangeInvalid');
      },
    },
  );

  facts = await db.billingSubscriptionFacts({ tenantId, subscriptionId });
  for (;;) {
    const seen = changes;
    const more = await condition(() => changes !== seen || busy, input.idleMs ?? IDLE_MS);
    if (!more) break;
    await condition(() => !busy);
  }
  await condition(allHandlersFinished);
  return { changes };
}
