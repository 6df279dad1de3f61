import { randomUUID } from 'node:crypto';
import type { SignedIn, TestPlatform } from './platform';

/**
 * Billing setup through the API, for suites about what comes after it (quotes, orders, the
 * portal): a customer, a product with one plan, and a customer user linked to the customer.
 */

export async function api<T = unknown>(p: TestPlatform, who: SignedIn | { headers: Record<string, string> }, path: string, init: { method?: string; body?: unknown; expect?: number } = {}): Promise<T> {
  const res = await p.request(path, { method: init.method, headers: who.headers, body: init.body });
  const text = await res.text();
  const wanted = init.expect ?? (res.status >= 200 && res.status < 300 ? res.status : 200);
  if (res.status !== wanted) throw new Error(`${init.method ?? (init.body ? 'POST' : 'GET')} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export function customerBody(overrides: Record<string, unknown> = {}) {
  const name = `Acme ${randomUUID().slice(0, 6)} GmbH`;
  return {
    kind: 'company',
    name,
    address: { line1: 'Hauptstraße 1', postalCode: '10115', city: 'Berlin', country: 'DE' },
    taxId: null,
    currency: 'EUR',
    timeZone: 'Europe/Berlin',
    contacts: [{ name: 'Ada Admin', email: `billing-${randomUUID().slice(0, 6)}@acme.test`, isBilling: true }],
    ...overrides,
  };
}

export async function createCustomer(p: TestPlatform, staff: SignedIn, overrides: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
  return api(p, staff, '/api/customers', { body: customerBody(overrides) });
}

/** A product with one plan that provisions `provisioning` (a VM on a cluster, or nothing). */
export async function createPlan(
  p: TestPlatform,
  staff: SignedIn,
  provisioning: Record<string, unknown>,
  opts: { monthlyMinor?: number; setupFeeMinor?: number; name?: string } = {},
): Promise<{ productId: string; planId: string; name: string }> {
  const product = await api<{ id: string }>(p, staff, '/api/catalog/products', { body: { name: `Servers ${randomUUID().slice(0, 6)}` } });
  const name = opts.name ?? `S-${randomUUID().slice(0, 4)}`;
  const plan = await api<{ id: string }>(p, staff, `/api/catalog/products/${product.id}/plans`, {
    body: { name, currency: 'EUR', prices: [{ cycle: 'monthly', amountMinor: opts.monthlyMinor ?? 1250 }], setupFeeMinor: opts.setupFeeMinor ?? 0, provisioning },
  });
  return { productId: product.id, planId: plan.id, name };
}

/** A member with the `customer` role, linked to `customerId`, with a session (and a password to sign in with). */
export async function createCustomerUser(p: TestPlatform, staff: SignedIn, tenantId: string, customerId: string): Promise<SignedIn & { password: string }> {
  const password = `portal ${randomUUID().slice(0, 8)}`;
  const user = await p.createUser({ tenantId, role: 'customer', password });
  await api(p, staff, `/api/customers/${customerId}/users`, { body: { userId: user.id } });
  const { createSession, SESSION_COOKIE } = await import('../api/src/auth/sessions');
  const s = await createSession(p.db, { userId: user.id, tenantId, twoFactorVerified: true, ip: null, userAgent: 'vitest' });
  const cookie = `${SESSION_COOKIE}=${s.token}`;
  return { userId: user.id, tenantId, email: user.email, password, csrfToken: s.csrfToken, cookie, headers: { cookie, 'x-csrf-token': s.csrfToken } };
}

/** Polls `read` until `done` holds (or the time is up); returns the last value. */
export async function pollUntil<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000, intervalMs = 300): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
