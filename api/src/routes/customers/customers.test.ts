import { customerUsers } from '@keelson/db/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { CustomerListSchema, CustomerSchema, CustomerUserListSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() });

export const companyBody = (overrides: Record<string, unknown> = {}) => ({
  kind: 'company',
  name: 'Müller & Söhne GmbH',
  address: { line1: 'Hauptstraße 1', postalCode: '10115', city: 'Berlin', country: 'de' },
  taxId: 'DE 123 456 789',
  currency: 'eur',
  timeZone: 'Europe/Berlin',
  notes: 'Pays by transfer',
  contacts: [
    { name: 'Anna Müller', email: 'anna@mueller.test', role: 'CEO' },
    { name: 'Accounts', email: 'accounts@mueller.test', isBilling: true },
  ],
  ...overrides,
});

describe('/api/customers', () => {
  let p: TestPlatform;
  let owner: SignedIn;
  let billing: SignedIn;
  let operator: SignedIn;
  let viewer: SignedIn;
  let otherOwner: SignedIn;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
    billing = await p.signIn({ tenantId: tenant.id, role: 'billing' });
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    viewer = await p.signIn({ tenantId: tenant.id, role: 'viewer' });
    otherOwner = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
  });
  afterAll(() => p?.close());

  const create = (who: SignedIn, body: unknown) => p.request('/api/customers', { headers: who.headers, body });
  const expectError = async (res: Response, status: number, mentions?: string) => {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (mentions) expect(body.message).toContain(mentions);
  };

  it('creates a company with contacts, one billing contact and a checked VAT id; billing staff manage, operators read', async () => {
    const res = await create(billing, companyBody());
    expect(res.status).toBe(201);
    const c = CustomerSchema.strict().parse(await res.json());
    expect(c).toMatchObject({ kind: 'company', country: 'DE', taxId: 'DE123456789', taxIdValid: true, currency: 'EUR', timeZone: 'Europe/Berlin' });
    expect(c.address).toEqual({ line1: 'Hauptstraße 1', line2: null, postalCode: '10115', city: 'Berlin', region: null, country: 'DE' });
    expect(c.contacts.map((x) => [x.email, x.isBilling])).toEqual([
      ['anna@mueller.test', false],
      ['accounts@mueller.test', true],
    ]);
    expect(c.billingContact?.email).toBe('accounts@mueller.test');

    // Operators and viewers read money but do not change it.
    expect((await p.request(`/api/customers/${c.id}`, { headers: operator.headers })).status).toBe(200);
    expect((await p.request('/api/customers?q=accounts@mueller', { headers: viewer.headers })).status).toBe(200);
    await expectError(await create(operator, companyBody()), 403, 'customer.manage');
    await expectError(await p.request(`/api/customers/${c.id}`, { method: 'PUT', headers: operator.headers, body: companyBody() }), 403);
    await expectError(await p.request(`/api/customers/${c.id}`, { method: 'DELETE', headers: viewer.headers }), 403);

    // Search by contact email, name or tax id.
    const found = CustomerListSchema.parse(await (await p.request('/api/customers?q=ACCOUNTS@', { headers: operator.headers })).json());
    expect(found.items.map((x) => x.id)).toEqual([c.id]);

    // The first contact is the billing contact when none is marked; a replace keeps one.
    const put = await p.request(`/api/customers/${c.id}`, {
      method: 'PUT',
      headers: owner.headers,
      body: companyBody({ contacts: [{ name: 'Only', email: 'only@mueller.test' }], taxId: null }),
    });
    expect(put.status).toBe(200);
    const updated = CustomerSchema.parse(await put.json());
    expect(updated).toMatchObject({ taxId: null, taxIdValid: false, billingContact: { email: 'only@mueller.test', isBilling: true } });
  });

  it('answers 400 naming the field for a bad tax id, country, currency, zone, email or contacts', async () => {
    for (const [body, field] of [
      [companyBody({ taxId: 'DE12' }), 'taxId'],
      [companyBody({ address: { line1: 'x', postalCode: '1', city: 'y', country: 'XX' } }), 'address.country'],
      [companyBody({ currency: 'EURO' }), 'currency'],
      [companyBody({ timeZone: 'Mars/Olympus' }), 'timeZone'],
      [companyBody({ contacts: [{ name: 'x', email: 'not-an-email' }] }), 'contacts.0.email'],
      [companyBody({ contacts: [] }), 'contacts'],
      [companyBody({ contacts: [{ name: 'a', email: 'a@x.test', isBilling: true }, { name: 'b', email: 'b@x.test', isBilling: true }] }), 'billing contact'],
      [companyBody({ kind: 'partnership' }), 'kind'],
    ] as const) {
      await expectError(await create(owner, body), 400, field);
    }
    // A tax id of a country validator has no format for is kept, but never counts as valid.
    const res = await create(owner, companyBody({ name: 'Kiribati Ltd', address: { line1: 'Main Rd', postalCode: 'KI1', city: 'Tarawa', country: 'KI' }, taxId: 'KI-998877', currency: 'AUD', timeZone: 'Pacific/Kiritimati' }));
    expect(res.status).toBe(201);
    expect(CustomerSchema.parse(await res.json())).toMatchObject({ taxId: 'KI998877', taxIdValid: false });
    await expectError(await p.request('/api/customers/not-a-uuid', { headers: owner.headers }), 400);
    await expectError(await p.request('/api/customers'), 401);
  });

  it('links customer users, who see only their own customer; other organizations see none', async () => {
    const mine = CustomerSchema.parse(await (await create(owner, companyBody({ name: 'Portal Co' }))).json());
    const other = CustomerSchema.parse(await (await create(owner, companyBody({ name: 'Someone Else' }))).json());
    const portal = await p.signIn({ tenantId: owner.tenantId, role: 'customer' });

    // Not linked yet: a customer user sees nothing at all.
    expect(CustomerListSchema.parse(await (await p.request('/api/customers', { headers: portal.headers })).json()).items).toEqual([]);
    await expectError(await p.request(`/api/customers/${mine.id}`, { headers: portal.headers }), 404);

    // Only members with the customer role can be linked.
    await expectError(await p.request(`/api/customers/${mine.id}/users`, { headers: billing.headers, body: { userId: operator.userId } }), 400, 'role operator');
    const linked = await p.request(`/api/customers/${mine.id}/users`, { headers: billing.headers, body: { userId: portal.userId } });
    expect(linked.status).toBe(200);
    const users = CustomerUserListSchema.parse(await (await p.request(`/api/customers/${mine.id}/users`, { headers: owner.headers })).json());
    expect(users.items.map((u) => u.userId)).toEqual([portal.userId]);

    const seen = CustomerListSchema.parse(await (await p.request('/api/customers', { headers: portal.headers })).json());
    expect(seen.items.map((c) => c.id)).toEqual([mine.id]);
    expect((await p.request(`/api/customers/${mine.id}`, { headers: portal.headers })).status).toBe(200);
    await expectError(await p.request(`/api/customers/${other.id}`, { headers: portal.headers }), 404);
    expect(CustomerListSchema.parse(await (await p.request(`/api/customers?q=Someone`, { headers: portal.headers })).json()).items).toEqual([]);
    // A customer user changes nothing, and cannot list who else signs in for the customer.
    await expectError(await p.request(`/api/customers/${mine.id}`, { method: 'PUT', headers: portal.headers, body: companyBody() }), 403);
    await expectError(await p.request(`/api/customers/${mine.id}/users`, { headers: portal.headers }), 403);

    // Another organization: 404 for the record, an empty list, and no linking across.
    await expectError(await p.request(`/api/customers/${mine.id}`, { headers: otherOwner.headers }), 404);
    expect(CustomerListSchema.parse(await (await p.request('/api/customers', { headers: otherOwner.headers })).json()).items).toEqual([]);
    await expectError(await p.request(`/api/customers/${mine.id}/users`, { headers: otherOwner.headers, body: { userId: portal.userId } }), 404);

    // Unlinking ends the view at once.
    expect((await p.request(`/api/customers/${mine.id}/users/${portal.userId}`, { method: 'DELETE', headers: owner.headers })).status).toBe(204);
    expect(await p.db.select().from(customerUsers)).toHaveLength(0);
    expect(CustomerListSchema.parse(await (await p.request('/api/customers', { headers: portal.headers })).json()).items).toEqual([]);

    // A customer without subscriptions or invoices can be deleted.
    expect((await p.request(`/api/customers/${other.id}`, { method: 'DELETE', headers: owner.headers })).status).toBe(204);
    await expectError(await p.request(`/api/customers/${other.id}`, { headers: owner.headers }), 404);
  });
});
