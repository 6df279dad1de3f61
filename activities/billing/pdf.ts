import type { CustomerSnapshot, PostalAddress } from '@keelson/db/schema';
import { create as openFont, type Font } from 'fontkit';
import { DateTime } from 'luxon';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import PDFDocument from 'pdfkit';

/**
 * Invoice and credit note PDFs, rendered with pdfkit. Text is set in DejaVu Sans (the
 * `dejavu-fonts-ttf` package), embedded and subset, so names in Polish, Greek, Cyrillic, Turkish
 * or Vietnamese print as written — the PDF standard fonts stop at Latin-1.
 */
const require = createRequire(import.meta.url);
const fontDir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
/**
 * Opened once per process. Opening is the expensive part: a font handed to pdfkit as bytes is
 * parsed again, and its layout tables decoded again, for each document (most of a render's time).
 */
let fonts: { body: Font; bold: Font } | undefined;
const open = (file: string) => openFont(readFileSync(join(fontDir, file))) as Font;
const loadFonts = () => (fonts ??= { body: open('DejaVuSans.ttf'), bold: open('DejaVuSans-Bold.ttf') });

/**
 * A document's view of an opened font: the decoded tables are shared, the glyphs are its own.
 * fontkit keeps each glyph with the characters it was first made for, and pdfkit maps a glyph
 * back to text (what copying, search and screen readers see) from those: shared across
 * documents, a glyph first made for a decomposed "ć" lost every later "c" from the text layer.
 */
function forDocument(font: Font): Font {
  return Object.create(font, { _glyphs: { value: {}, writable: true } }) as Font;
}

export interface DocumentLine {
  description: string;
  quantity: number;
  unitPriceMinor: number;
  taxRateBp: number;
  netMinor: number;
  periodStart?: Date | null;
  periodEnd?: Date | null;
}

export interface BillingDocument {
  kind: 'invoice' | 'credit_note';
  number: string;
  issuedAt: Date;
  dueAt?: Date | null;
  /** For a credit note: the invoice it credits. */
  creditsInvoice?: string | null;
  reason?: string | null;
  currency: string;
  /** Dates print in this zone (the customer's). */
  timeZone: string;
  seller: { legalName: string; address: PostalAddress | null; taxId: string | null; email: string | null; logo?: Buffer | null };
  customer: CustomerSnapshot;
  lines: DocumentLine[];
  subtotalMinor: number;
  taxMinor: number;
  totalMinor: number;
  reverseCharge: boolean;
  notes?: string;
}

const digitsCache = new Map<string, number>();
function currencyDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/** Minor units as text (`EUR 1,234.50`), with integer arithmetic only: no float touches the amount. */
export function formatMoney(minor: number, currency: string): string {
  const digits = currencyDigits(currency);
  const negative = minor < 0;
  const abs = BigInt(Math.abs(minor));
  const unit = 10n ** BigInt(digits);
  const whole = (abs / unit).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = digits ? `.${(abs % unit).toString().padStart(digits, '0')}` : '';
  return `${negative ? '-' : ''}${currency} ${whole}${frac}`;
}

const formatRate = (bp: number) => `${(bp / 100).toFixed(bp % 100 === 0 ? 0 : 2)} %`;
const date = (d: Date, zone: string) => DateTime.fromJSDate(d, { zone }).toFormat('yyyy-MM-dd');
const addressLines = (a: PostalAddress | null) => (a ? [a.line1, a.line2, `${a.postalCode} ${a.city}`, a.region, a.country].filter((x): x is string => Boolean(x)) : []);

/** Renders the document to PDF bytes. */
export function renderBillingPdf(doc: BillingDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const title = doc.kind === 'invoice' ? 'Invoice' : 'Credit note';
    const pdf = new PDFDocument({ size: 'A4', margin: 50, info: { Title: `${title} ${doc.number}`, Author: doc.seller.legalName, CreationDate: doc.issuedAt } });
    const chunks: Buffer[] = [];
    pdf.on('data', (c: Buffer) => chunks.push(c));
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
    const { body, bold } = loadFonts();
    // pdfkit takes an opened fontkit font as it takes bytes; its types know only the latter.
    pdf.registerFont('body', forDocument(body) as unknown as Buffer);
    pdf.registerFont('bold', forDocument(bold) as unknown as Buffer);
    const left = 50;
    const width = pdf.page.width - 100;

    // Seller, top left (logo above when there is one); the document's title and numbers, right.
    let y = 50;
    if (doc.seller.logo) {
      try {
        pdf.image(doc.seller.logo, left, y, { fit: [140, 50] });
        y += 58;
      } catch {
        // A logo pdfkit cannot read is left out rather than failing the invoice.
      }
    }
    pdf.font('bold').fontSize(12).text(doc.seller.legalName, left, y, { width: 260 });
    pdf.font('body').fontSize(9);
    for (const l of addressLines(doc.seller.address)) pdf.text(l, { width: 260 });
    if (doc.seller.taxId) pdf.text(`VAT ID: ${doc.seller.taxId}`, { width: 260 });
    if (doc.seller.email) pdf.text(doc.seller.email, { width: 260 });

    pdf.font('bold').fontSize(18).text(`${title}`, 330, 50, { width: width - 280, align: 'right' });
    pdf.font('body').fontSize(10).text(doc.number, { width: width - 280, align: 'right' });
    pdf.fontSize(9).text(`Date: ${date(doc.issuedAt, doc.timeZone)}`, { width: width - 280, align: 'right' });
    if (doc.dueAt) pdf.text(`Due: ${date(doc.dueAt, doc.timeZone)}`, { width: width - 280, align: 'right' });
    if (doc.creditsInvoice) pdf.text(`Credits invoice ${doc.creditsInvoice}`, { width: width - 280, align: 'right' });

    // Bill to.
    y = Math.max(pdf.y, 170) + 10;
    pdf.font('bold').fontSize(9).text('Bill to', left, y);
    pdf.font('body').fontSize(10).text(doc.customer.name, { width: 300 });
    pdf.fontSize(9);
    for (const l of addressLines(doc.customer.address)) pdf.text(l, { width: 300 });
    if (doc.customer.taxId) pdf.text(`VAT ID: ${doc.customer.taxId}`, { width: 300 });

    // Lines.
    y = pdf.y + 20;
    const cols = { description: left, quantity: left + 255, unit: left + 295, rate: left + 375, amount: left + 425 };
    const header = (at: number) => {
      pdf.font('bold').fontSize(9);
      pdf.text('Description', cols.description, at, { width: 250 });
      pdf.text('Qty', cols.quantity, at, { width: 35, align: 'right' });
      pdf.text('Unit price', cols.unit, at, { width: 75, align: 'right' });
      pdf.text('Tax', cols.rate, at, { width: 45, align: 'right' });
      pdf.text('Amount', cols.amount, at, { width: width - 425, align: 'right' });
      pdf.moveTo(left, at + 13).lineTo(left + width, at + 13).stroke();
      pdf.font('body');
      return at + 18;
    };
    y = header(y);
    for (const line of doc.lines) {
      const period = line.periodStart && line.periodEnd ? `\n${date(line.periodStart, doc.timeZone)} – ${date(new Date(line.periodEnd.getTime() - 1), doc.timeZone)}` : '';
      const text = `${line.description}${period}`;
      const h = Math.max(pdf.heightOfString(text, { width: 250 }), 12);
      if (y + h > pdf.page.height - 150) {
        pdf.addPage();
        y = header(50);
      }
      pdf.fontSize(9).text(text, cols.description, y, { width: 250 });
      pdf.text(String(line.quantity), cols.quantity, y, { width: 35, align: 'right' });
      pdf.text(formatMoney(line.unitPriceMinor, doc.currency), cols.unit, y, { width: 75, align: 'right' });
      pdf.text(formatRate(line.taxRateBp), cols.rate, y, { width: 45, align: 'right' });
      pdf.text(formatMoney(line.netMinor, doc.currency), cols.amount, y, { width: width - 425, align: 'right' });
      y += h + 6;
    }

    // Totals.
    pdf.moveTo(left + 295, y).lineTo(left + width, y).stroke();
    y += 6;
    const total = (label: string, amount: number, bold = false) => {
      pdf.font(bold ? 'bold' : 'body').fontSize(bold ? 11 : 9);
      pdf.text(label, left + 255, y, { width: 165, align: 'right' });
      pdf.text(formatMoney(amount, doc.currency), cols.amount, y, { width: width - 425, align: 'right' });
      y += bold ? 18 : 14;
    };
    total('Subtotal', doc.subtotalMinor);
    total(doc.reverseCharge ? 'Tax (reverse charge)' : 'Tax', doc.taxMinor);
    total(doc.kind === 'invoice' ? 'Total due' : 'Total credited', doc.totalMinor, true);

    pdf.font('body').fontSize(9);
    y += 10;
    if (doc.reverseCharge) {
      pdf.text('Reverse charge: VAT to be accounted for by the recipient.', left, y, { width });
      y = pdf.y + 4;
    }
    if (doc.reason) {
      pdf.text(`Reason: ${doc.reason}`, left, y, { width });
      y = pdf.y + 4;
    }
    if (doc.notes) pdf.text(doc.notes, left, y, { width });
    pdf.end();
  });
}
