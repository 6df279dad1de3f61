import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { continueAsNew, executeChild, ParentClosePolicy, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BillingActivities, DueSubscription } from '@keelson/activities/billing/index';
import { BillingOperation, WorkflowId } from '@keelson/common/constants';
import { mergeNumberRanges, splitNumberRange, type NumberRange } from '@keelson/common/number-ranges';
import { fittingResources, runSearchAttributes } from '@keelson/common/search-attributes';
import type { RunContext } from '../run-context';
import { finalizeSubscriptionPeriods, invoiceSubscriptions, issueInvoiceRange, type InvoiceSubscriptionsInput, type IssueInvoiceRangeResult } from './invoice';

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
  /**
   * Set by the run itself across continue-as-new once it finalizes before it issues: the number
   * ranges finalized and not yet issued, and whether every due period is finalized (issuing has begun).
   */
  toIssue?: NumberRange[];
  issuing?: boolean;
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
 * The run numbers every due period first and only then renders, sends and starts dunning
 * (added later; older runs issue each batch as it is finalized, and go on doing so).
 */
const FINALIZES_FIRST = 'billing-run-finalizes-first';

/**
 * The billing run of one organization (started daily by its Schedule, or by hand): invoices every
 * subscription whose next period starts within the organization's lead time. Overlapping runs
 * are safe: a child's business ID is started once (a second run's start of it is refused and
 * skipped), and drafting moves each subscription past its period under its row lock.
 * A subscription several periods behind (a backfill) is invoiced period by period in later passes.
 * First, subscriptions whose trial is over at the run's clock become active.
 *
 * Every due period is numbered before any invoice is rendered or sent: the batches draft and
 * finalize, answering the number ranges they hold, and only then are the ranges issued (PDF,
 * email, dunning ladder). So finalizing 10,000 invoices never waits behind 10,000 PDFs and
 * ladders, and the run's history holds ranges and counts, not each invoice.
 */
export async function billingRun(input: BillingRunInput): Promise<BillingRunTotals> {
  const { tenantId, actor } = input;
  const batchSize = Math.max(1, input.batchSize ?? 1);
  const pageSize = input.pageSize ?? Math.max(batchSize * 8, 200);
  const parallel = input.parallel ?? 8;
  const totals: BillingRunTotals = input.totals ?? { children: 0, alreadyRunning: 0, invoices: 0, emailsSent: 0 };
  // Decided once per execution, before its first command: a run that began under the old order
  // replays (and finishes) under it.
  const finalizesFirst = patched(FINALIZES_FIRST);
  let toIssue = input.toIssue ?? [];
  let horizon = input.horizon;
  if (!horizon) {
    const ctx = await db.billingRunContext({ tenantId });
    horizon = new Date(new Date(ctx.now).getTime() + ctx.leadDays * 86_400_000).toISOString();
    if (patched(ENDS_TRIALS)) await db.billingEndTrials({ tenantId, now: ctx.now });
  }
  let after = input.after;
  let pass = input.pass ?? 0;
  let progressed = false;
  const carry = (): BillingRunInput => ({ ...input, horizon, after, pass, totals, toIssue: finalizesFirst ? toIssue : undefined });

  // First every due period is drafted and finalized, batch by batch; with `finalizesFirst` the
  // batches only number their invoices, and the ranges they answer are issued afterwards.
  while (!(finalizesFirst && input.issuing)) {
    const due = await db.billingFindDue({ tenantId, horizon, limit: pageSize, after });
    if (!due.length) {
      // One pass done: go round again while subscriptions still have due periods (a backfill).
      if (!progressed || ++pass >= MAX_PASSES) break;
      after = undefined;
      progressed = false;
      continue;
    }
    after = due[due.length - 1]!.subscriptionId;
    const batches: DueSubscription[][] = [];
    for (let i = 0; i < due.length; i += batchSize) batches.push(due.slice(i, i + batchSize));
    for (let i = 0; i < batches.length; i += parallel) {
      const group = batches.slice(i, i + parallel);
      if (finalizesFirst) {
        const results = await Promise.all(group.map((batch) => batchChild(finalizeSubscriptionPeriods, tenantId, actor, batch, input.email)));
        for (const r of results) {
          if (!r) {
            totals.alreadyRunning++;
            continue;
          }
          totals.children++;
          totals.invoices += r.finalizedNow;
          toIssue = mergeNumberRanges([...toIssue, ...r.ranges]);
          if (r.progressed) progressed = true;
        }
        continue;
      }
      const results = await Promise.all(group.map((batch) => batchChild(invoiceSubscriptions, tenantId, actor, batch, input.email)));
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
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof billingRun>(carry());
  }
  if (!finalizesFirst) return totals;

  // Then the numbered invoices are rendered, emailed and handed to dunning, range by range.
  while (toIssue.length) {
    const pieces = toIssue.flatMap((r) => splitNumberRange(r, batchSize)).slice(0, parallel);
    const results = await Promise.all(pieces.map((range) => issueChild(tenantId, actor, range, input.email)));
    for (const r of results) totals.emailsSent += r?.emailsSent ?? 0;
    toIssue = pieces.reduce((left, done) => withoutRange(left, done), toIssue);
    if (toIssue.length && workflowInfo().continueAsNewSuggested) await continueAsNew<typeof billingRun>({ ...carry(), issuing: true });
  }
  return totals;
}

/** `ranges` without `done` (a piece cut from the front of one of them). */
function withoutRange(ranges: NumberRange[], done: NumberRange): NumberRange[] {
  return ranges.flatMap((r) => {
    if (r.series !== done.series || done.to < r.from || done.from > r.to) return [r];
    const left = done.from > r.from ? [{ ...r, to: done.from - 1 }] : [];
    const right = done.to < r.to ? [{ ...r, from: done.to + 1 }] : [];
    return [...left, ...right];
  });
}

/**
 * Issues one range of numbers; null when another run already issues exactly that range. Its
 * business ID names the range, so a range is issued by one run at a time; a later run's
 * overlapping range issues nothing twice (each step is once per invoice).
 */
async function issueChild(tenantId: string, actor: string, range: NumberRange, email: boolean | undefined): Promise<IssueInvoiceRangeResult | null> {
  try {
    return await executeChild(issueInvoiceRange, {
      workflowId: WorkflowId.invoiceRange(tenantId, range.series, range.from, range.to),
      args: [{ tenantId, actor, ...range, email }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      // The invoices and customers it is about are named by the run itself once it has read them.
      typedSearchAttributes: runSearchAttributes({ tenantId, operation: BillingOperation.issue, resources: [], actor }),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return null;
    throw err;
  }
}

/**
 * Runs one child for a batch (the whole of it, or with `finalizeSubscriptionPeriods` its drafts
 * and numbers); null when another billing run already started that exact child.
 */
async function batchChild<R>(workflow: (input: InvoiceSubscriptionsInput) => Promise<R>, tenantId: string, actor: string, batch: DueSubscription[], email: boolean | undefined): Promise<R | null> {
  const first = batch[0]!;
  const workflowId = batch.length === 1 ? WorkflowId.invoicePeriod(first.subscriptionId, first.periodStart) : WorkflowId.invoiceBatch(tenantId, first.subscriptionId, first.periodStart, batch.length);
  try {
    return await executeChild(workflow, {
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
        resources: fittingResources([...new Set(batch.flatMap((d) => [`customer:${d.customerId}`, `subscription:${d.subscriptionId}`]))]),
        actor,
      }),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return null;
    throw err;
  }
}
