import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, patched, proxyActivities, startChild, upsertSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { BillingActivities, DraftedPeriod, DueSubscription, Finalized } from '@keelson/activities/billing/index';
import { BillingOperation, DunningOperation, WorkflowId, resourceRef } from '@keelson/common/constants';
import type { NumberRange } from '@keelson/common/number-ranges';
import { fittingResources, runSearchAttributes, SearchKey } from '@keelson/common/search-attributes';
import type { RunContext } from '../run-context';
import { dunningLadder } from './dunning';

/**
 * Issuing invoices: finalize (numbers from the locked counter, in one transaction) → render the
 * PDFs → record one email per invoice (kind `invoice`, key the invoice id) → send them. Every
 * step is safe to repeat, so a worker killed anywhere resumes without a second number, PDF or
 * email.
 */

/**
 * Postgres work in a few statements per batch: seconds at most, so a worker killed mid-call is
 * given up on after 30 s and the call retried elsewhere (it is idempotent).
 */
const db = proxyActivities<BillingActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '10s' } });
/** PDF rendering heartbeats per document, so a dead worker is noticed in seconds. */
const render = proxyActivities<BillingActivities>({ startToCloseTimeout: '30m', heartbeatTimeout: '10s', retry: { initialInterval: '1s', maximumInterval: '30s' } });
/**
 * Sending heartbeats per email; the mail module holds each email for 30 s while it sends, so an
 * attempt after a crash waits that out rather than sending twice.
 */
const send = proxyActivities<BillingActivities>({ startToCloseTimeout: '30m', heartbeatTimeout: '15s', retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 30 } });

export interface IssueInvoicesInput extends RunContext {
  invoiceIds: string[];
  /** Send the emails (default): the billing run and the API always do; a bench may measure without. */
  email?: boolean;
  /** A resend: a new email (kind `invoice.resend`) under this key instead of the invoice's own one. */
  resendKey?: string;
}

export interface IssueInvoicesResult {
  finalized: Finalized[];
  pdfsRendered: number;
  renderMs: number[];
  emailsSent: number;
  emailsFailed: number;
}

export async function issueInvoices(input: IssueInvoicesInput): Promise<IssueInvoicesResult> {
  const finalized = await db.billingFinalizeInvoices({ tenantId: input.tenantId, invoiceIds: input.invoiceIds });
  return { finalized, ...(await issueFinalized(input, finalized)) };
}

/** Renders, records and sends the emails of, and starts the dunning ladders of invoices already finalized. */
async function issueFinalized(input: IssueInvoicesInput, finalized: Finalized[]): Promise<Omit<IssueInvoicesResult, 'finalized'>> {
  const { tenantId, invoiceIds } = input;
  const { rendered, renderMs } = await render.billingRenderInvoicePdfs({ tenantId, invoiceIds });
  let sent = 0;
  let failed = 0;
  if (input.email !== false) {
    const emailIds = await db.billingQueueInvoiceEmails({ tenantId, invoiceIds, resendKey: input.resendKey });
    ({ sent, failed } = await send.billingDeliverEmails({ tenantId, emailIds }));
  }
  // Every invoice that went out gets its dunning ladder (a resend is the same invoice).
  if (!input.resendKey && patched(STARTS_DUNNING)) await startDunning(input, finalized);
  return { pdfsRendered: rendered, renderMs, emailsSent: sent, emailsFailed: failed };
}

/** Issuing starts each invoice's dunning ladder (added with Billing II's dunning). */
const STARTS_DUNNING = 'issuing-starts-dunning';

/** The ladders of one issue are started together, in one workflow task, rather than one after another. */
const STARTS_DUNNING_TOGETHER = 'issuing-starts-dunning-together';

/**
 * Starts `dunning/<invoice>` for each finalized invoice, once: an id already used (a retried or
 * repeated issue, a ladder already ended) is left alone. The ladder outlives this run; it reads
 * the invoice itself and does nothing for one without a due date or already paid.
 *
 * All of a batch's starts go out as commands of one workflow task: started one after another,
 * each waited for its own round trip through Temporal, and a billing run of 10,000 invoices spent
 * minutes starting ladders after every invoice was issued.
 */
async function startDunning(ctx: RunContext, finalized: Finalized[]): Promise<void> {
  const start = async (f: Finalized) => {
    try {
      await startChild(dunningLadder, {
        workflowId: WorkflowId.dunning(f.invoiceId),
        args: [{ tenantId: ctx.tenantId, actor: ctx.actor, invoiceId: f.invoiceId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: runSearchAttributes({ tenantId: ctx.tenantId, operation: DunningOperation.ladder, resources: [resourceRef('invoice', f.invoiceId), ...(f.customerId ? [resourceRef('customer', f.customerId)] : [])], actor: ctx.actor }),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  };
  if (patched(STARTS_DUNNING_TOGETHER)) {
    await Promise.all(finalized.map(start));
  } else {
    for (const f of finalized) await start(f);
  }
}

export interface InvoiceSubscriptionsInput extends RunContext {
  /** The periods to invoice: one subscription (`invoice/<subscription>/<period start>`) or a batch. */
  due: DueSubscription[];
  email?: boolean;
}

export interface InvoiceSubscriptionsResult extends IssueInvoicesResult {
  drafted: DraftedPeriod[];
}

/**
 * Invoices subscription periods: drafts them (each period once: the subscription moves past it
 * in the same transaction, and the invoice key is unique), then issues the drafts.
 */
export async function invoiceSubscriptions(input: InvoiceSubscriptionsInput): Promise<InvoiceSubscriptionsResult> {
  const drafted = await db.billingDraftPeriods({ tenantId: input.tenantId, due: input.due });
  const invoiceIds = drafted.map((d) => d.invoiceId).filter((id): id is string => id !== null);
  const issued = invoiceIds.length
    ? await issueInvoices({ tenantId: input.tenantId, actor: input.actor, invoiceIds, email: input.email })
    : { finalized: [], pdfsRendered: 0, renderMs: [], emailsSent: 0, emailsFailed: 0 };
  return { drafted, ...issued };
}

export interface FinalizeSubscriptionPeriodsResult {
  /** Periods that moved on (a draft written now or before) or subscriptions that ended: the run goes round again. */
  progressed: number;
  finalizedNow: number;
  /** The numbers this batch's invoices hold: what the billing run issues once every batch is finalized. */
  ranges: NumberRange[];
}

/**
 * The billing run's first half for a batch of periods: drafts them as `invoiceSubscriptions`
 * does and finalizes the drafts, but renders and sends nothing. The run issues every batch's
 * invoices (`issueInvoiceRange`) only once all are numbered, and this answer names number
 * ranges, not invoices, so a run of 10,000 does not carry 10,000 invoices in its history.
 */
export async function finalizeSubscriptionPeriods(input: InvoiceSubscriptionsInput): Promise<FinalizeSubscriptionPeriodsResult> {
  const drafted = await db.billingDraftPeriods({ tenantId: input.tenantId, due: input.due });
  const invoiceIds = drafted.map((d) => d.invoiceId).filter((id): id is string => id !== null);
  const progressed = drafted.filter((d) => d.outcome === 'drafted' || d.outcome === 'existing' || d.outcome === 'ended').length;
  if (!invoiceIds.length) return { progressed, finalizedNow: 0, ranges: [] };
  const { finalizedNow, ranges } = await db.billingFinalizeBatch({ tenantId: input.tenantId, invoiceIds });
  return { progressed, finalizedNow, ranges };
}

export interface IssueInvoiceRangeInput extends RunContext, NumberRange {
  email?: boolean;
}

export interface IssueInvoiceRangeResult {
  invoices: number;
  pdfsRendered: number;
  emailsSent: number;
  emailsFailed: number;
}

/**
 * The billing run's second half for a range of numbers it finalized: reads the invoices holding
 * them, then renders, emails and starts dunning as `issueInvoices` does (each step once per
 * invoice, whoever else issues the same invoice).
 */
export async function issueInvoiceRange(input: IssueInvoiceRangeInput): Promise<IssueInvoiceRangeResult> {
  const finalized = await db.billingNumberedInvoices({ tenantId: input.tenantId, series: input.series, from: input.from, to: input.to });
  if (!finalized.length) return { invoices: 0, pdfsRendered: 0, emailsSent: 0, emailsFailed: 0 };
  // Customers see the runs about them: name them (as many as fit) now that they are known.
  upsertSearchAttributes([{ key: SearchKey.resources, value: fittingResources([...new Set(finalized.flatMap((f) => [...(f.customerId ? [resourceRef('customer', f.customerId)] : []), resourceRef('invoice', f.invoiceId)]))]) }]);
  const issued = await issueFinalized({ tenantId: input.tenantId, actor: input.actor, invoiceIds: finalized.map((f) => f.invoiceId), email: input.email }, finalized);
  return { invoices: finalized.length, pdfsRendered: issued.pdfsRendered, emailsSent: issued.emailsSent, emailsFailed: issued.emailsFailed };
}

export interface IssueCreditNoteInput extends RunContext {
  creditNoteId: string;
}

/** Renders a credit note's PDF and sends it once (kind `credit_note`, key the credit note id). */
export async function issueCreditNote(input: IssueCreditNoteInput): Promise<{ emailsSent: number }> {
  const { emailId } = await render.billingPrepareCreditNoteEmail({ tenantId: input.tenantId, creditNoteId: input.creditNoteId });
  if (!emailId) return { emailsSent: 0 };
  const { sent } = await send.billingDeliverEmails({ tenantId: input.tenantId, emailIds: [emailId] });
  return { emailsSent: sent };
}

/** A numbered document another run produced: an invoice (issued for a reason) or a credit note. */
export type IssuedDocument = { kind: 'invoice'; id: string; reason: string } | { kind: 'credit_note'; id: string };

/**
 * Starts the run that renders a document's PDF and emails it once — the run the API starts for
 * any invoice or credit note — from another run (an order, a plan change), which does not wait
 * for mail: the child outlives it. `resources` name what the document is about (`order:<id>`,
 * `customer:<id>`), so the people who see those see it.
 */
export async function startIssuing(ctx: RunContext, doc: IssuedDocument, resources: string[]): Promise<void> {
  const common = { parentClosePolicy: ParentClosePolicy.ABANDON } as const;
  const attributes = (operation: string, ref: string) => runSearchAttributes({ tenantId: ctx.tenantId, operation, resources: [ref, ...resources], actor: ctx.actor });
  try {
    if (doc.kind === 'invoice') {
      await startChild(issueInvoices, {
        ...common,
        workflowId: WorkflowId.issueInvoices(doc.id, doc.reason),
        args: [{ ...ctx, invoiceIds: [doc.id] }],
        typedSearchAttributes: attributes(BillingOperation.issue, `invoice:${doc.id}`),
      });
    } else {
      await startChild(issueCreditNote, {
        ...common,
        workflowId: WorkflowId.creditNote(doc.id),
        args: [{ ...ctx, creditNoteId: doc.id }],
        typedSearchAttributes: attributes(BillingOperation.creditNote, `credit_note:${doc.id}`),
      });
    }
  } catch (err) {
    // Already on its way (a run of the same document started elsewhere): that one sends it.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
