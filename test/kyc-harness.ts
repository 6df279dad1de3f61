import { customerContacts, customers, customerUsers } from '@keelson/db/schema';
import { randomBytes } from 'node:crypto';
import type { SignedIn, TestPlatform } from './platform';

/** A 1×1 PNG and a small PDF: real files whose type file-type recognises by content. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
export const PDF = Buffer.from('%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n');

/** A customer of the organization with one (billing) contact. */
export async function createCustomer(p: TestPlatform, tenantId: string, opts: { name?: string; email?: string } = {}) {
  const name = opts.name ?? `Customer ${randomBytes(3).toString('hex')}`;
  const [c] = await p.db
    .insert(customers)
    .values({ tenantId, kind: 'individual', name, address: { line1: 'Main St 1', line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' }, country: 'DE', currency: 'EUR', timeZone: 'Europe/Berlin' })
    .returning({ id: customers.id });
  const email = opts.email ?? `${randomBytes(4).toString('hex')}@customer.test`;
  await p.db.insert(customerContacts).values({ tenantId, customerId: c!.id, name, email, isBilling: true, position: 0 });
  return { id: c!.id, name, email };
}

/** A signed-in member with the customer role, acting for `customerId`. */
export async function signInCustomer(p: TestPlatform, tenantId: string, customerId: string): Promise<SignedIn> {
  const who = await p.signIn({ tenantId, role: 'customer' });
  await p.db.insert(customerUsers).values({ tenantId, userId: who.userId, customerId });
  return who;
}

/** Uploads raw bytes as a document. */
export function upload(p: TestPlatform, who: SignedIn, customerId: string, bytes: Buffer, query = 'kind=passport&filename=passport.png') {
  return p.app.request(`/api/kyc/cases/${customerId}/documents?${query}`, { method: 'POST', headers: { ...who.headers, 'content-type': 'application/octet-stream' }, body: bytes });
}
