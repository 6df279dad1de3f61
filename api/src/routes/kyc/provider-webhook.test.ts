import { kycCaseEvents, kycCases, kycProviderEvents } from '@keelson/db/schema';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer } from '../../../../test/kyc-harness';
import { createTestPlatform, type TestPlatform } from '../../../../test/platform';
import { seededRandom } from '../../../../test/seeded-random';
import { until } from '../../../../test/worker-process';
import { sumsubDigest } from '../../services/kyc/provider-webhook';

const SECRET = 'sumsub-webhook-secret-0123456789';

describe('/api/webhooks/kyc/sumsub', () => {
  let p: TestPlatform;
  let tenantId: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    tenantId = (await p.createTenant()).id;
    const owner = await p.signIn({ tenantId, role: 'owner' });
    const res = await p.request('/api/kyc/provider', { method: 'PUT', headers: owner.headers, body: { provider: 'sumsub', webhookSecret: SECRET } });
    expect(res.status).toBe(200);
    await p.startCoreWorker();
  });
  afterAll(() => p?.close());

  const event = (customerId: string, n: number, answer: 'GREEN' | 'RED', base: number) => ({
    type: 'applicantReviewed',
    applicantId: `app-${customerId.slice(0, 8)}`,
    correlationId: `evt-${n}`,
    externalUserId: customerId,
    reviewStatus: 'completed',
    createdAtMs: new Date(base + n * 1000).toISOString().replace('T', ' ').replace('Z', ''),
    reviewResult: answer === 'GREEN' ? { reviewAnswer: 'GREEN' } : { reviewAnswer: 'RED', reviewRejectType: 'RETRY', moderationComment: `evt-${n}` },
  });
  const deliver = (body: string, digest = sumsubDigest(SECRET, Buffer.from(body))) =>
    p.app.request(`/api/webhooks/kyc/sumsub/${tenantId}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-payload-digest': digest, 'x-payload-digest-alg': 'HMAC_SHA256_HEX' }, body });

  it('verifies the digest before parsing: a bad one is a 401 and records nothing', async () => {
    const customer = await createCustomer(p, tenantId);
    const body = JSON.stringify(event(customer.id, 1, 'GREEN', Date.UTC(2026, 0, 1)));
    expect((await deliver(body, sumsubDigest('another-secret-entirely', Buffer.from(body)))).status).toBe(401);
    expect((await deliver('{not json', sumsubDigest('x', Buffer.from('{not json')))).status).toBe(401);
    expect((await deliver(body, '')).status).toBe(401);
    expect(await p.db.select().from(kycProviderEvents).where(eq(kycProviderEvents.customerId, customer.id))).toEqual([]);
    // Verified but malformed: a 400 naming the field.
    const bad = JSON.stringify({ ...event(customer.id, 2, 'GREEN', 0), reviewResult: { reviewAnswer: 'YELLOW' } });
    const res = await deliver(bad);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { reason: string }).reason).toContain('reviewResult.reviewAnswer');
  });

  it('100 deliveries of 50 decisions, duplicated and shuffled: the case ends in the newest decision, never regressing; a stale event never downgrades', { timeout: 120_000 }, async () => {
    const customer = await createCustomer(p, tenantId);
    const base = Date.UTC(2026, 5, 1);
    const random = seededRandom(23);
    const answers = Array.from({ length: 50 }, (_, i) => (i === 49 ? 'GREEN' : random() < 0.5 ? 'GREEN' : 'RED') as 'GREEN' | 'RED');
    const bodies = answers.flatMap((a, n) => {
      const body = JSON.stringify(event(customer.id, n, a, base));
      return [body, body];
    });
    for (let i = bodies.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [bodies[i], bodies[j]] = [bodies[j]!, bodies[i]!];
    }
    const statuses: number[] = [];
    for (let i = 0; i < bodies.length; i += 10) statuses.push(...(await Promise.all(bodies.slice(i, i + 10).map(async (b) => (await deliver(b)).status))));
    expect(statuses.filter((s) => s === 202)).toHaveLength(50);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(await p.db.select().from(kycProviderEvents).where(eq(kycProviderEvents.customerId, customer.id))).toHaveLength(50);

    const row = await until('the newest decision applied', async () => {
      const [c] = await p.db.select().from(kycCases).where(and(eq(kycCases.tenantId, tenantId), eq(kycCases.customerId, customer.id)));
      return c?.providerDecisionAt?.getTime() === base + 49 * 1000 && c.state === 'approved' ? c : undefined;
    }, 60_000);
    expect(row.state).toBe('approved');

    // Every decision applied is newer than the one before it.
    const history = await p.db.select().from(kycCaseEvents).where(and(eq(kycCaseEvents.caseId, row.id), eq(kycCaseEvents.actor, 'provider:sumsub'))).orderBy(asc(kycCaseEvents.version));
    const applied = history.map((h) => Number(/evt-(\d+)/.exec(h.detail ?? '')![1]));
    expect(applied.length).toBeGreaterThan(0);
    for (let i = 1; i < applied.length; i++) expect(applied[i]!).toBeGreaterThan(applied[i - 1]!);
    expect(applied.at(-1)).toBe(49);
    for (const [i, h] of history.entries()) expect(h.state).toBe(answers[applied[i]!] === 'GREEN' ? 'approved' : 'rejected');

    // A stale RED (older than the last applied) arrives late, under a new id: nothing changes.
    const stale = JSON.stringify({ ...event(customer.id, 10, 'RED', base), correlationId: 'evt-late-10' });
    expect((await deliver(stale)).status).toBe(202);
    const last = history.at(-1)!.version;
    // A newer GREEN after it proves the stale one was processed first (signals are applied in order).
    expect((await deliver(JSON.stringify(event(customer.id, 60, 'GREEN', base)))).status).toBe(202);
    await until('the newer decision applied', async () => {
      const [c] = await p.db.select().from(kycCases).where(eq(kycCases.id, row.id));
      return c?.providerDecisionAt?.getTime() === base + 60_000 ? c : undefined;
    });
    const after = await p.db.select().from(kycCaseEvents).where(eq(kycCaseEvents.caseId, row.id)).orderBy(asc(kycCaseEvents.version));
    expect(after.filter((e) => e.version > last).map((e) => [e.state, e.detail])).toEqual([['approved', 'event evt-60']]);
  });
});
