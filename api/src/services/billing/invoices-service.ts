import { invoiceDocuments, creditNoteDocument } from '@keelson/activities/billing/documents';
import { createDraftInvoice, issueCreditNote, markInvoicePaid, voidInvoice, type LineInput } from '@keelson/activities/billing/ledger';
import { renderBillingPdf } from '@keelson/activities/billing/pdf';
import { BillingOperation, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { creditNoteLines, creditNotes, customers, files, invoiceLines, invoices, outboundEmails, type InvoiceStatus } from '@keelson/db/schema';
import { and, asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerResource, customerScope } from '../customer-scope';
import { startWorkflowRun } from '../runs-service';
import { ledgerCall } from './ledger-errors';
import { sendReceipt, tellDunningPaid } from './payments-service';

type InvoiceRow = typeof invoices.$inferSelect;
const iso = (d: Date | null) => d?.toISOString() ?? null;

function presentInvoice(row: InvoiceRow, customerName: string) {
  return {
    id: row.id,
    customerId: row.customerId,
    customerName,
    subscriptionId: row.subscriptionId,
    orderId: row.orderId,
    status: row.status,
    series: row.series,
    number: row.number,
    currency: row.currency,
    periodStart: iso(row.periodStart),
    periodEnd: iso(row.periodEnd),
    subtotalMinor: row.subtotalMinor,
    taxMinor: row.taxMinor,
    totalMinor: row.totalMinor,
    reverseCharge: row.reverseCharge,
    issuedAt: iso(row.issuedAt),
    dueAt: iso(row.dueAt),
    paidAt: iso(row.paidAt),
    voidedAt: iso(row.voidedAt),
    voidReason: row.voidReason,
    pdfReady: row.pdfFileId !== null,
    createdAt: row.createdAt.toISOString(),
  };
}

function visible(ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return and(eq(invoices.tenantId, ctx.principal.tenantId), scope ? eq(invoices.customerId, scope) : undefined, ...more);
}

export async function listInvoices(ctx: ServiceContext, filter: { customerId?: string; subscriptionId?: string; status?: InvoiceStatus }) {
  const rows = await ctx.deps.db
    .select({ invoice: invoices, customerName: customers.name })
    .from(invoices)
    .innerJoin(customers, eq(customers.id, invoices.customerId))
    .where(
      visible(
        ctx,
        filter.customerId ? eq(invoices.customerId, filter.customerId) : undefined,
        filter.subscriptionId ? eq(invoices.subscriptionId, filter.subscriptionId) : undefined,
        filter.status ? eq(invoices.status, filter.status) : undefined,
      ),
    )
    .orderBy(desc(invoices.createdAt), desc(invoices.id))
    .limit(1000);
  return rows.map((r) => presentInvoice(r.invoice, r.customerName));
}

async function requireInvoice(ctx: ServiceContext, id: string) {
  const [row] = await ctx.deps.db
    .select({ invoice: invoices, customerName: customers.name })
    .from(invoices)
    .innerJoin(customers, eq(customers.id, invoices.customerId))
    .where(visible(ctx, eq(invoices.id, id)));
  if (!row) throw new NotFoundError('invoice');
  return row;
}

export async function getInvoice(ctx: ServiceContext, id: string) {
  const { invoice, customerName } = await requireInvoice(ctx, id);
  const { db } = ctx.deps;
  const lines = await db.select().from(invoiceLines).where(eq(invoiceLines.invoiceId, id)).orderBy(asc(invoiceLines.position));
  const notes = await db.select().from(creditNotes).where(and(eq(creditNotes.tenantId, ctx.principal.tenantId), eq(creditNotes.invoiceId, id))).orderBy(asc(creditNotes.createdAt));
  const emails = await db
    .select({ kind: outboundEmails.kind, status: outboundEmails.status, to: outboundEmails.to, sentAt: outboundEmails.sentAt, messageId: outboundEmails.messageId })
    .from(outboundEmails)
    .where(and(eq(outboundEmails.tenantId, ctx.principal.tenantId), eq(outboundEmails.resource, `invoice:${id}`)))
    .orderBy(asc(outboundEmails.createdAt));
  return {
    ...presentInvoice(invoice, customerName),
    customer: invoice.customerSnapshot,
    notes: invoice.notes,
    lines: lines.map((l) => ({
      position: l.position,
      kind: l.kind,
      description: l.description,
      quantity: l.quantity,
      unitPriceMinor: l.unitPriceMinor,
      taxRateBp: l.taxRateBp,
      netMinor: l.netMinor,
      taxMinor: l.taxMinor,
      totalMinor: l.totalMinor,
      periodStart: iso(l.periodStart),
      periodEnd: iso(l.periodEnd),
    })),
    creditNotes: notes.map((n) => ({ id: n.id, number: n.number, totalMinor: n.totalMinor, reason: n.reason, issuedAt: iso(n.issuedAt) })),
    emails: emails.map((e) => ({ ...e, sentAt: iso(e.sentAt) })),
  };
}

/**
 * The invoice's PDF: the stored one once rendered (finalized invoices never change), a preview
 * rendered now for a draft. A finalized invoice whose PDF is still being rendered is a 409.
 */
export async function invoicePdf(ctx: ServiceContext, id: string): Promise<{ filename: string; content: Buffer }> {
  const { invoice } = await requireInvoice(ctx, id);
  if (invoice.pdfFileId) {
    const [f] = await ctx.deps.db.select({ filename: files.filename, content: files.content }).from(files).where(and(eq(files.tenantId, ctx.principal.tenantId), eq(files.id, invoice.pdfFileId)));
    if (f) return f;
  }
  if (invoice.status !== 'draft') throw new ConflictError('the PDF is being rendered; try again in a moment');
  const doc = (await invoiceDocuments(ctx.deps.db, ctx.principal.tenantId, [id], { preview: true })).get(id)!;
  return { filename: `draft-${id}.pdf`, content: await renderBillingPdf(doc) };
}

export interface ManualInvoiceInput {
  customerId: string;
  lines: Array<{ description: string; quantity: number; unitPriceMinor: number }>;
  notes: string;
}

/** A draft invoice of custom lines (a one-off charge), taxed for the customer. */
export async function createManualInvoice(ctx: ServiceContext, input: ManualInvoiceInput) {
  const { invoiceId } = await ctx.deps.db.transaction(async (tx) => {
    const [c] = await tx.select({ id: customers.id }).from(customers).where(and(eq(customers.tenantId, ctx.principal.tenantId), eq(customers.id, input.customerId)));
    if (!c) throw new NotFoundError('customer');
    const lines: LineInput[] = input.lines.map((l) => ({ kind: 'custom', ...l }));
    const out = await ledgerCall(() => createDraftInvoice(tx, { tenantId: ctx.principal.tenantId, customerId: input.customerId, lines, notes: input.notes }));
    await writeAudit(tx, { ...auditActor(ctx), action: 'invoice.create', resourceType: 'invoice', resourceId: out.invoiceId, details: { customerId: input.customerId, lines: input.lines.length } });
    return out;
  });
  return getInvoice(ctx, invoiceId);
}

/** Starts the run that finalizes the draft (its number), renders its PDF and emails it once. */
export async function finalizeInvoice(ctx: ServiceContext, id: string) {
  const { invoice } = await requireInvoice(ctx, id);
  if (invoice.status !== 'draft') throw new ConflictError(`the invoice is ${invoice.status}, not a draft`);
  return startWorkflowRun(ctx, {
    operation: BillingOperation.issue,
    workflowType: WorkflowType.issueInvoices,
    workflowId: WorkflowId.issueInvoices(id, 'finalize'),
    input: { invoiceIds: [id] },
    resources: [`invoice:${id}`, customerResource(invoice.customerId)],
  });
}

/** Sends the invoice again: a new email (kind `invoice.resend`) with its own key per request. */
export async function resendInvoice(ctx: ServiceContext, id: string) {
  const { invoice } = await requireInvoice(ctx, id);
  if (invoice.status === 'draft') throw new ConflictError('a draft has not been sent; finalize it');
  if (!invoice.pdfFileId) throw new ConflictError('the PDF is being rendered; try again in a moment');
  const requestId = randomUUID();
  return startWorkflowRun(ctx, {
    operation: BillingOperation.resend,
    workflowType: WorkflowType.issueInvoices,
    workflowId: WorkflowId.issueInvoices(id, `resend-${requestId}`),
    input: { invoiceIds: [id], resendKey: requestId },
    resources: [`invoice:${id}`, customerResource(invoice.customerId)],
  });
}

export async function voidInvoiceById(ctx: ServiceContext, id: string, reason: string) {
  await requireInvoice(ctx, id);
  await ctx.deps.db.transaction(async (tx) => {
    await ledgerCall(() => voidInvoice(tx, ctx.principal.tenantId, id, reason, new Date()));
    await writeAudit(tx, { ...auditActor(ctx), action: 'invoice.void', resourceType: 'invoice', resourceId: id, details: { reason } });
  });
  return getInvoice(ctx, id);
}

/** "Mark paid": a manual payment of the whole balance, recorded like any payment (decision 0026). */
export async function markPaid(ctx: ServiceContext, id: string) {
  await requireInvoice(ctx, id);
  const recorded = await ctx.deps.db.transaction(async (tx) => {
    const out = await ledgerCall(() => markInvoicePaid(tx, ctx.principal.tenantId, id, new Date(), `${ctx.principal.actorType}:${ctx.principal.actorId}`));
    await writeAudit(tx, { ...auditActor(ctx), action: 'invoice.paid', resourceType: 'invoice', resourceId: id, details: { by: 'hand', paymentId: out.paymentId || null, amountMinor: out.amountMinor } });
    return out;
  });
  if (recorded.created) await sendReceipt(ctx, recorded.paymentId, recorded.customerId, id);
  await tellDunningPaid(ctx.deps, ctx.principal.tenantId, id, recorded.paymentId || null);
  return getInvoice(ctx, id);
}

/** Issues a credit note against the invoice (numbered at once), then a run renders and emails it. */
export async function creditInvoice(ctx: ServiceContext, id: string, input: { reason: string; lines?: Array<{ description: string; quantity: number; unitPriceMinor: number }> }) {
  const { invoice } = await requireInvoice(ctx, id);
  const note = await ctx.deps.db.transaction(async (tx) => {
    const out = await ledgerCall(() => issueCreditNote(tx, { tenantId: ctx.principal.tenantId, invoiceId: id, reason: input.reason, lines: input.lines, now: new Date() }));
    await writeAudit(tx, { ...auditActor(ctx), action: 'credit_note.create', resourceType: 'credit_note', resourceId: out.creditNoteId, details: { invoiceId: id, number: out.number, reason: input.reason } });
    return out;
  });
  const run = await startWorkflowRun(ctx, {
    operation: BillingOperation.creditNote,
    workflowType: WorkflowType.issueCreditNote,
    workflowId: WorkflowId.creditNote(note.creditNoteId),
    input: { creditNoteId: note.creditNoteId },
    resources: [`credit_note:${note.creditNoteId}`, `invoice:${id}`, customerResource(invoice.customerId)],
  });
  return { creditNote: await getCreditNote(ctx, note.creditNoteId), run };
}

function visibleNotes(ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return and(eq(creditNotes.tenantId, ctx.principal.tenantId), scope ? eq(creditNotes.customerId, scope) : undefined, ...more);
}

export async function listCreditNotes(ctx: ServiceContext, filter: { customerId?: string; invoiceId?: string }) {
  const rows = await ctx.deps.db
    .select({ note: creditNotes, invoiceNumber: invoices.number })
    .from(creditNotes)
    .innerJoin(invoices, eq(invoices.id, creditNotes.invoiceId))
    .where(visibleNotes(ctx, filter.customerId ? eq(creditNotes.customerId, filter.customerId) : undefined, filter.invoiceId ? eq(creditNotes.invoiceId, filter.invoiceId) : undefined))
    .orderBy(desc(creditNotes.createdAt))
    .limit(1000);
  const lines = rows.length ? await ctx.deps.db.select().from(creditNoteLines).where(inArray(creditNoteLines.creditNoteId, rows.map((r) => r.note.id))).orderBy(asc(creditNoteLines.position)) : [];
  return rows.map(({ note, invoiceNumber }) => ({
    id: note.id,
    invoiceId: note.invoiceId,
    invoiceNumber,
    customerId: note.customerId,
    number: note.number,
    status: note.status,
    currency: note.currency,
    subtotalMinor: note.subtotalMinor,
    taxMinor: note.taxMinor,
    totalMinor: note.totalMinor,
    reason: note.reason,
    issuedAt: iso(note.issuedAt),
    pdfReady: note.pdfFileId !== null,
    lines: lines
      .filter((l) => l.creditNoteId === note.id)
      .map((l) => ({ position: l.position, description: l.description, quantity: l.quantity, unitPriceMinor: l.unitPriceMinor, taxRateBp: l.taxRateBp, netMinor: l.netMinor, taxMinor: l.taxMinor, totalMinor: l.totalMinor })),
  }));
}

export async function getCreditNote(ctx: ServiceContext, id: string) {
  const [row] = await ctx.deps.db.select({ id: creditNotes.id, invoiceId: creditNotes.invoiceId }).from(creditNotes).where(visibleNotes(ctx, eq(creditNotes.id, id)));
  if (!row) throw new NotFoundError('credit note');
  return (await listCreditNotes(ctx, { invoiceId: row.invoiceId })).find((n) => n.id === id)!;
}

export async function creditNotePdf(ctx: ServiceContext, id: string): Promise<{ filename: string; content: Buffer }> {
  const [row] = await ctx.deps.db.select({ pdfFileId: creditNotes.pdfFileId }).from(creditNotes).where(visibleNotes(ctx, eq(creditNotes.id, id)));
  if (!row) throw new NotFoundError('credit note');
  if (row.pdfFileId) {
    const [f] = await ctx.deps.db.select({ filename: files.filename, content: files.content }).from(files).where(and(eq(files.tenantId, ctx.principal.tenantId), eq(files.id, row.pdfFileId)));
    if (f) return f;
  }
  const doc = await creditNoteDocument(ctx.deps.db, ctx.principal.tenantId, id);
  if (!doc) throw new NotFoundError('credit note');
  return { filename: `${doc.number}.pdf`, content: await renderBillingPdf(doc) };
}
