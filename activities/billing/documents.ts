import type { Executor } from '@keelson/db';
import { billingSettings, creditNoteLines, creditNotes, customers, files, invoiceLines, invoices, type CustomerSnapshot } from '@keelson/db/schema';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { storeFile } from '../mail/outbox';
import { renderBillingPdf, type BillingDocument } from './pdf';

/** What an invoice or credit note PDF prints, read from the database in a few queries. */
async function seller(db: Executor, tenantId: string): Promise<BillingDocument['seller']> {
  const [s] = await db.select().from(billingSettings).where(eq(billingSettings.tenantId, tenantId));
  let logo: Buffer | null = null;
  if (s?.logoFileId) {
    const [f] = await db.select({ content: files.content }).from(files).where(and(eq(files.tenantId, tenantId), eq(files.id, s.logoFileId)));
    logo = f?.content ?? null;
  }
  return { legalName: s?.legalName || 'Keelson', address: s?.address ?? null, taxId: s?.taxId ?? null, email: s?.email ?? null, logo };
}

export const invoiceFilename = (number: string) => `${number}.pdf`;

/** The invoice's printable document; null for a draft (it has no number yet) unless `preview`. */
export async function invoiceDocuments(db: Executor, tenantId: string, invoiceIds: string[], opts: { preview?: boolean } = {}): Promise<Map<string, BillingDocument>> {
  const out = new Map<string, BillingDocument>();
  if (!invoiceIds.length) return out;
  const rows = await db
    .select({ invoice: invoices, customer: customers })
    .from(invoices)
    .innerJoin(customers, eq(customers.id, invoices.customerId))
    .where(and(eq(invoices.tenantId, tenantId), inArray(invoices.id, invoiceIds)));
  const lines = await db.select().from(invoiceLines).where(inArray(invoiceLines.invoiceId, rows.map((r) => r.invoice.id))).orderBy(asc(invoiceLines.invoiceId), asc(invoiceLines.position));
  const from = await seller(db, tenantId);
  for (const { invoice, customer } of rows) {
    if (!invoice.number && !opts.preview) continue;
    const snapshot: CustomerSnapshot = invoice.customerSnapshot ?? { name: customer.name, kind: customer.kind, address: customer.address, taxId: customer.taxId, email: null };
    out.set(invoice.id, {
      kind: 'invoice',
      number: invoice.number ?? 'DRAFT',
      issuedAt: invoice.issuedAt ?? new Date(),
      dueAt: invoice.dueAt,
      currency: invoice.currency,
      timeZone: customer.timeZone,
      seller: from,
      customer: snapshot,
      lines: lines.filter((l) => l.invoiceId === invoice.id),
      subtotalMinor: invoice.subtotalMinor,
      taxMinor: invoice.taxMinor,
      totalMinor: invoice.totalMinor,
      reverseCharge: invoice.reverseCharge,
      notes: invoice.notes,
    });
  }
  return out;
}

export async function creditNoteDocument(db: Executor, tenantId: string, creditNoteId: string): Promise<BillingDocument | null> {
  const [row] = await db
    .select({ note: creditNotes, invoiceNumber: invoices.number, customer: customers })
    .from(creditNotes)
    .innerJoin(invoices, eq(invoices.id, creditNotes.invoiceId))
    .innerJoin(customers, eq(customers.id, creditNotes.customerId))
    .where(and(eq(creditNotes.tenantId, tenantId), eq(creditNotes.id, creditNoteId)));
  if (!row || !row.note.number) return null;
  const lines = await db.select().from(creditNoteLines).where(eq(creditNoteLines.creditNoteId, creditNoteId)).orderBy(asc(creditNoteLines.position));
  const c = row.customer;
  return {
    kind: 'credit_note',
    number: row.note.number,
    issuedAt: row.note.issuedAt ?? new Date(),
    creditsInvoice: row.invoiceNumber,
    reason: row.note.reason,
    currency: row.note.currency,
    timeZone: c.timeZone,
    seller: await seller(db, tenantId),
    customer: row.note.customerSnapshot ?? { name: c.name, kind: c.kind, address: c.address, taxId: c.taxId, email: null },
    lines,
    subtotalMinor: row.note.subtotalMinor,
    taxMinor: row.note.taxMinor,
    totalMinor: row.note.totalMinor,
    reverseCharge: row.note.reverseCharge,
  };
}

export interface RenderedPdf {
  id: string;
  fileId: string;
  /** Milliseconds pdfkit took (0 when it was rendered before). */
  renderMs: number;
}

/**
 * Renders and stores the PDFs of finalized invoices that have none yet; one already rendered is
 * left as it is (a finalized invoice never changes, so neither does its PDF). The file and the
 * invoice's pointer to it are written in one transaction per invoice.
 */
export async function renderInvoicePdfs(db: Executor, tenantId: string, invoiceIds: string[], onEach?: () => void): Promise<RenderedPdf[]> {
  const out: RenderedPdf[] = [];
  const todo = await db
    .select({ id: invoices.id, pdfFileId: invoices.pdfFileId })
    .from(invoices)
    .where(and(eq(invoices.tenantId, tenantId), inArray(invoices.id, invoiceIds)));
  for (const r of todo) if (r.pdfFileId) out.push({ id: r.id, fileId: r.pdfFileId, renderMs: 0 });
  const docs = await invoiceDocuments(db, tenantId, todo.filter((r) => !r.pdfFileId).map((r) => r.id));
  for (const [id, doc] of docs) {
    const started = performance.now();
    const content = await renderBillingPdf(doc);
    const renderMs = performance.now() - started;
    const fileId = await storePdf(db, tenantId, invoices, id, invoiceFilename(doc.number), content);
    out.push({ id, fileId, renderMs });
    onEach?.();
  }
  return out;
}

export async function renderCreditNotePdf(db: Executor, tenantId: string, creditNoteId: string): Promise<string | null> {
  const [existing] = await db.select({ pdfFileId: creditNotes.pdfFileId }).from(creditNotes).where(and(eq(creditNotes.tenantId, tenantId), eq(creditNotes.id, creditNoteId)));
  if (existing?.pdfFileId) return existing.pdfFileId;
  const doc = await creditNoteDocument(db, tenantId, creditNoteId);
  if (!doc) return null;
  const content = await renderBillingPdf(doc);
  return storePdf(db, tenantId, creditNotes, creditNoteId, invoiceFilename(doc.number), content);
}

/**
 * Stores a rendered PDF and points the document at it, under the document's row lock: when a
 * concurrent attempt stored one first, theirs stands and this copy is not written.
 */
async function storePdf(db: Executor, tenantId: string, table: typeof invoices | typeof creditNotes, id: string, filename: string, content: Buffer): Promise<string> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ pdfFileId: table.pdfFileId }).from(table).where(and(eq(table.tenantId, tenantId), eq(table.id, id))).for('update');
    if (row?.pdfFileId) return row.pdfFileId;
    const { fileId } = await storeFile(tx, { tenantId, filename, contentType: 'application/pdf', content });
    await tx.update(table).set({ pdfFileId: fileId }).where(eq(table.id, id));
    return fileId;
  });
}
