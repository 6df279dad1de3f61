import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { renderBillingPdf, type BillingDocument } from './pdf';

async function textOf(pdf: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-pdf-'));
  try {
    await writeFile(join(dir, 'doc.pdf'), pdf);
    return (await promisify(execFile)('pdftotext', ['-layout', join(dir, 'doc.pdf'), '-'])).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const invoice = (customerName: string, reverseCharge: boolean): BillingDocument => ({
  kind: 'invoice',
  number: 'INV-2027-000001',
  issuedAt: new Date('2027-01-31T09:00:00Z'),
  dueAt: new Date('2027-02-14T09:00:00Z'),
  currency: 'EUR',
  timeZone: 'Europe/Warsaw',
  seller: { legalName: 'Hoster GmbH', address: null, taxId: 'DE123456789', email: 'billing@hoster.example' },
  customer: { name: customerName, kind: 'company', email: 'c@example.com', taxId: null, address: { line1: 'Ring 1', line2: null, postalCode: '00-001', city: 'Warszawa', region: null, country: 'PL' } },
  lines: [{ description: 'VPS — S (monthly)', quantity: 1, unitPriceMinor: 1000, taxRateBp: 0, netMinor: 1000 }],
  subtotalMinor: 1000,
  taxMinor: 0,
  totalMinor: 1000,
  reverseCharge,
});

describe('invoice PDFs', () => {
  it('keep every character in the text layer, whatever documents the process rendered before', async () => {
    // Names with letters a font composes from others (ć, ś, ż, ł), then a document full of plain c's.
    for (const name of ['Zażółć Gęślą Jaźń', 'Ćma Łódź', 'Çiğdem Şükrü']) await renderBillingPdf(invoice(name, false));
    const text = await textOf(await renderBillingPdf(invoice('Accounting Co', true)));
    expect(text).toContain('Accounting Co');
    expect(text).toContain('Reverse charge: VAT to be accounted for by the recipient.');
    expect(await textOf(await renderBillingPdf(invoice('Zażółć Gęślą Jaźń', false)))).toContain('Zażółć Gęślą Jaźń');
  });
});
