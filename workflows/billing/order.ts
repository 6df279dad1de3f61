import { OrderSignal, resourceRef } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  defineSignal,
  executeChild,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { LoadedOrder, OrderActivities, OrderOutcome } from '../../activities/billing/orders';
import { awaitApproval } from '../approval';
import { describeFailure } from '../failures';
import type { RunContext } from '../run-context';
import { startIssuing } from './invoice';

export interface OrderInput extends RunContext {
  orderId: string;
  /**
   * How long an order of a product that requires KYC waits for the customer's approval before it
   * is cancelled and credited (ms); the API sets it from its configuration (default 14 days).
   */
  kycTimeoutMs?: number;
}

/** The customer's KYC case tells waiting orders when it is approved or ends. */
export const kycDecidedSignal = defineSignal<[{ state: string }]>(OrderSignal.kycDecided);

/**
 * Postgres bookkeeping: short calls retried until the database answers (a business failure, such
 * as an order that is no longer there, is non-retryable and ends the run).
 */
const records = proxyActivities<OrderActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '30s' } });

/**
 * One order, start to finish (`order/<id>`), the runbook a billing manager would follow:
 *
 *   first invoice → acceptance → provision (a child run) → activate the subscription
 *
 * - **First invoice.** The order's lines (setup fee, first period unless the plan starts with a
 *   trial, one-off lines of a quote) are invoiced and numbered once, keyed by the order; a run of
 *   its own renders and emails it like every invoice, and the order does not wait for the email.
 * - **Acceptance.** A plan that bills on account goes straight through; otherwise a person with
 *   billing rights accepts or rejects the order (an approval, decision 0010). A rejected or
 *   expired order is closed and what was invoiced is credited. `awaitAcceptance` is the one place
 *   that knows the ways through this step (Billing II adds the first invoice being paid).
 * - **Provision.** The plan's service is made by the existing provisioning workflows as a child
 *   run (a Proxmox VM or container, a container from a blueprint); they undo what they made when
 *   they fail. The child is asked to cancel (and waited for) when the order is cancelled, so its
 *   compensation runs and nothing is left half-made.
 * - **Activate.** The subscription starts its first period; the order is active.
 *
 * A provisioning failure (or a cancelled order) cancels the subscription and issues a credit
 * note for the whole first invoice (emailed by its own run), then the run fails with
 * `OrderFailed` naming the reason.
 */
export async function orderFulfil(input: OrderInput): Promise<OrderOutcome> {
  const { tenantId, orderId } = input;
  const order = await records.loadOrder({ tenantId, orderId });

  const { invoiceId } = await records.invoiceOrder({ tenantId, orderId });
  if (invoiceId && patched(ISSUES_DOCUMENTS)) {
    await startIssuing({ tenantId, actor: input.actor }, { kind: 'invoice', id: invoiceId, reason: 'order' }, about(order));
  }

  try {
    if (order.requiresKyc && patched(WAITS_FOR_KYC)) {
      const kyc = await awaitKyc(order, input.kycTimeoutMs ?? DEFAULT_KYC_TIMEOUT_MS);
      if (!kyc.approved) return await closeOrder(order, input.actor, 'canceled', kyc.reason);
    }
    const acceptance = await awaitAcceptance(order);
    if (acceptance.outcome !== 'accepted') return await closeOrder(order, input.actor, 'rejected', acceptance.reason);

    await records.recordOrder({ tenantId, orderId, status: 'provisioning' });
    const child = await records.prepareService({ tenantId, orderId, actor: input.actor });
    let result: unknown = null;
    if (child) {
      result = await executeChild(child.workflowType, {
        workflowId: child.workflowId,
        args: [{ ...child.input, tenantId, actor: input.actor }],
        typedSearchAttributes: runSearchAttributes({ tenantId, operation: child.operation, resources: child.resources, actor: input.actor }),
        // Cancelling the order asks the provisioning run to cancel and waits while it undoes
        // what it made; if this run is terminated, the child is still asked to cancel.
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
    }
    return await records.activateOrder({ tenantId, orderId, result });
  } catch (err) {
    const reason = isCancellation(err) ? 'the order was cancelled' : describeFailure(err);
    log.warn('order failed, cancelling its subscription and crediting what was invoiced', { orderId, reason });
    await closeOrder(order, input.actor, isCancellation(err) ? 'canceled' : 'failed', reason);
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({ type: 'OrderFailed', message: `order failed: ${reason}`, nonRetryable: true, cause: err as Error });
  }
}

/** Orders of products that require KYC wait for an approved case (added later). */
const WAITS_FOR_KYC = 'order-waits-for-kyc';
const DEFAULT_KYC_TIMEOUT_MS = 14 * 24 * 3_600_000;
const KYC_ENDED = ['rejected_final', 'expired', 'revoked'];

/**
 * Waits until the customer's identity check is approved: at once if it already is, else until
 * their case says so (`kycDecided`, sent by the case when it is approved or ends). The order is
 * marked `awaiting_kyc` before the case is read, and the case lists waiting orders after it
 * records a decision, so a decision is never missed between the two. A case that ends without
 * approval, or no approval within the timeout, cancels the order.
 */
async function awaitKyc(order: LoadedOrder, timeoutMs: number): Promise<{ approved: true } | { approved: false; reason: string }> {
  let told: string | null = null;
  setHandler(kycDecidedSignal, ({ state }) => {
    told = state;
  });
  await records.recordOrder({ tenantId: order.tenantId, orderId: order.orderId, status: 'awaiting_kyc' });
  const standing = await records.kycStanding({ tenantId: order.tenantId, customerId: order.customerId });
  if (standing.approved) return { approved: true };
  if (standing.state === 'rejected_final') return { approved: false, reason: 'the identity check was rejected for good' };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const heard = await condition(() => told !== null, Math.max(1, deadline - Date.now()));
    if (!heard) return { approved: false, reason: 'the identity check was not approved in time' };
    const state: string = told!;
    told = null;
    if (state === 'approved') return { approved: true };
    if (KYC_ENDED.includes(state)) return { approved: false, reason: `the identity check was ${state === 'rejected_final' ? 'rejected for good' : state}` };
  }
}

/** The order renders and emails its invoice and credit note in runs of their own (added later). */
const ISSUES_DOCUMENTS = 'order-issues-its-documents';

/** What an order's documents are about: the order and its customer (who sees their runs). */
const about = (order: LoadedOrder) => [resourceRef('order', order.orderId), resourceRef('customer', order.customerId)];

/**
 * Closes the order (its subscription cancelled, its invoice credited) whatever cancellation is
 * under way, and sends the credit note.
 */
function closeOrder(order: LoadedOrder, actor: string, status: 'failed' | 'rejected' | 'canceled', reason: string): Promise<OrderOutcome> {
  return CancellationScope.nonCancellable(async () => {
    const outcome = await records.closeOrder({ tenantId: order.tenantId, orderId: order.orderId, status, reason });
    const noteId = outcome.creditNoteId;
    if (noteId && patched(ISSUES_DOCUMENTS)) {
      await startIssuing({ tenantId: order.tenantId, actor }, { kind: 'credit_note', id: noteId }, about(order));
    }
    return outcome;
  });
}

type Acceptance = { outcome: 'accepted'; by: string } | { outcome: 'rejected'; reason: string };

/**
 * The ways an order gets through acceptance: it bills on account, or a person accepts it. Billing
 * II adds a third (the first invoice is paid) by racing its signal against the approval here.
 */
async function awaitAcceptance(order: LoadedOrder): Promise<Acceptance> {
  if (order.onAccount) return { outcome: 'accepted', by: 'on account' };
  await records.recordOrder({ tenantId: order.tenantId, orderId: order.orderId, status: 'awaiting_acceptance' });
  const decision = await awaitApproval({ prompt: `Accept order ${order.reference} from ${order.customerName}: ${order.summary}`, timeout: order.acceptanceTimeout });
  if (decision.outcome === 'approved') return { outcome: 'accepted', by: decision.by ?? 'unknown' };
  const why = decision.outcome === 'expired' ? 'nobody accepted it in time' : `rejected by ${decision.by ?? 'unknown'}`;
  return { outcome: 'rejected', reason: decision.comment ? `${why}: ${decision.comment}` : why };
}
