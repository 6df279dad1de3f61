import { proxyActivities } from '@temporalio/workflow';
import type { BillingActivities, DraftedPeriod, DueSubscription, Finalized } from '@keelson/activities/billing/index';
import type { RunContext } from '../run-context';

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
  const { tenantId, invoiceIds } = input;
  const finalized = await db.billingFinalizeInvoices({ tenantId, invoiceIds });
  const { rendered, renderMs } = await render.billingRenderInvoicePdfs({ tenantId, invoiceIds });
  let sent = 0;
  let failed = 0;
  if (input.email !== false) {
    const emailIds = await db.billingQueueInvoiceEmails({ tenantId, invoiceIds, resendKey: input.resendKey });
    ({ sent, failed } = await send.billingDeliverEmails({ tenantId, emailIds }));
  }
  return { finalized, pdfsRendered: rendered, renderMs, emailsSent: sent, emailsFailed: failed };
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
