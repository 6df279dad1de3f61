import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { continueAsNew, executeChild, ParentClosePolicy, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BillingActivities, DueSubscription } from '@keelson/activities/billing/index';
import { BillingOperation, WorkflowId } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import type { RunContext } from '../run-context';
import { invoiceSubscriptions, type InvoiceSubscriptionsResult } from './invoice';

const db = proxyActivities<BillingActivities>({ startToCloseTimeout: '15s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });

export interface BillingRunInput extends RunContext {
  /**
   * Subscriptions per child run. 1 (the default) gives each due period its own child,
   * `invoice/<subscription>/<period start>`; larger runs batch them so that one child drafts,
   * numbers and renders many in a few statements (the per-period key and unique index still
   * make each period one invoice).
   */
  batchSize?: number;
  /** Due subscriptions read per page. */
  pageSize?: number;
  /** Child runs at once. */
  parallel?: number;
  /** Send invoice emails (default true). */
  email?: boolean;
  /** Set by the run itself across continue-as-new: the fixed horizon and where paging resumes. */
  horizon?: string;
  after?: string;
  pass?: number;
  totals?: BillingRunTotals;
}

export interface BillingRunTotals {
  children: number;
  alreadyRunning: number;
  invoices: number;
  emailsSent: number;
}

const MAX_PASSES = 60;
/** The run ends trials that are over before it invoices (added later; older runs did not). */
const ENDS_TRIALS = 'billing-run-ends-trials';

/**
 * The billing run of one organization (started daily by its Schedule, or by hand): invoices every
 * subscription whose next period starts within the organization's lead time. Overlapping runs
 * are safe: a child's business ID is started once (a second run's start of it is refused and
 * skipped), and drafting moves each subscription past its period under its row lock.
 * A subscription several periods behind (a backfill) is invoiced period by period in later passes.
 * First, subscriptions whose trial is over at the run's clock become active.
 */
export async function billingRun(input: BillingRunInput): Promise<BillingRunTotals> {
  const { tenantId, actor } = input;
  const batchSize = Math.max(1, input.batchSize ?? 1);
  const pageSize = input.pageSize ?? Math.max(batchSize * 8, 200);
  const parallel = input.parallel ?? 8;
  const totals: BillingRunTotals = input.totals ?? { children: 0, alreadyRunning: 0, invoices: 0, emailsSent: 0 };
  let horizon = input.horizon;
  if (!horizon) {
    const ctx = await db.billingRunContext({ tenantId });
    horizon = new Date(new Date(ctx.now).getTime() + ctx.leadDays * 86_400_000).toISOString();
    if (patched(ENDS_TRIALS)) await db.billingEndTrials({ tenantId, now: ctx.now });
  }
  let after = input.after;
  let pass = input.pass ?? 0;
  let progressed = false;

  for (;;) {
    const due = await db.billingFindDue({ tenantId, horizon, limit: pageSize, after });
    if (!due.length) {
      // One pass done: go round again while subscriptions still have due periods (a backfill).
      if (!progressed || ++pass >= MAX_PASSES) return totals;
      after = undefined;
      progressed = false;
      continue;
    }
    after = due[due.length - 1]!.subscriptionId;
    const batches: DueSubscription[][] = [];
    for (let i = 0; i < due.length; i += batchSize) batches.push(due.slice(i, i + batchSize));
    for (let i = 0; i < batches.length; i += parallel) {
      const results = await Promise.all(batches.slice(i, i + parallel).map((batch) => invoiceChild(tenantId, actor, batch, input.email)));
      for (const r of results) {
        if (!r) {
          totals.alreadyRunning++;
          continue;
        }
        totals.children++;
        totals.invoices += r.finalized.filter((f) => f.finalizedNow).length;
        totals.emailsSent += r.emailsSent;
        if (r.drafted.some((d) => d.outcome === 'drafted' || d.outcome === 'existing' || d.outcome === 'ended')) progressed = true;
      }
    }
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof billingRun>({ ...input, horizon, after, pass, totals });
    }
  }
}

/** Runs one child for a batch; null when another billing run already started that exact child. */
async function invoiceChild(tenantId: string, actor: string, batch: DueSubscription[], email: boolean | undefined): Promise<InvoiceSubscriptionsResult | null> {
  const first = batch[0]!;
  const workflowId = batch.length === 1 ? WorkflowId.invoicePeriod(first.subscriptionId, first.periodStart) : WorkflowId.invoiceBatch(tenantId, first.subscriptionId, first.periodStart, batch.length);
  try {
    return await executeChild(invoiceSubscriptions, {
      workflowId,
      args: [{ tenantId, actor, due: batch, email }],
      // A period invoiced once is never invoiced again by a later run reusing its ID.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: runSearchAttributes({
        tenantId,
        operation: BillingOperation.invoice,
        // Customers see the runs about them (customer:<id>); staff find a subscription's runs.
        // Temporal caps a search attribute at 2 KiB: a large batch names as many as fit.
        resources: fitting([...new Set(batch.flatMap((d) => [`customer:${d.customerId}`, `subscription:${d.subscriptionId}`]))], 1800),
        actor,
      }),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return null;
    throw err;
  }
}

/** The leading values whose JSON fits in `bytes`. */
function fitting(values: string[], bytes: number): string[] {
  const out: string[] = [];
  let size = 2;
  for (const v of values) {
    size += v.length + 3;
    if (size > bytes) break;
    out.push(v);
  }
  return out;
}
