import { kycCaseEvents, kycCases, outboundEmails } from '@keelson/db/schema';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, PNG, upload } from './kyc-harness';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { expectOncePerMessageId, startSmtpReceiver, type SmtpReceiver } from './smtp';
import { until, workerProcesses } from './worker-process';

/**
 * The timeline's step: reminders come this far apart, and no case may expire later than this.
 * Longer than the 10 s for which Temporal still offers a run's next task to the worker that
 * last ran it (its sticky queue): a run idle since a kill pays that once.
 */
const INTERVAL = 15_000;

/**
 * KYC cases' timers with the worker process SIGKILLed at each (decision 0023): as soon as a
 * reminder or an escalation has recorded its email, the worker dies and another starts. Each
 * email reaches the SMTP receiver as one message (a copy only after a kill, under the same
 * Message-ID), and every case waiting for documents has
 * expired within one timer interval of its expiry.
 */
describe('KYC reminders, escalations and expiry with the worker SIGKILLed at each', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let owner: SignedIn;
  let tenantId: string;
  const workers = workerProcesses(() => p);

  beforeAll(async () => {
    p = await createTestPlatform();
    p.deps.config.kycTimeline = { remindersMs: [INTERVAL, 2 * INTERVAL], documentsDueMs: 4 * INTERVAL, reviewSlaMs: 1.5 * INTERVAL, retentionMs: 1_000 };
    tenantId = (await p.createTenant()).id;
    owner = await p.signIn({ tenantId, role: 'owner' });
    smtp = await startSmtpReceiver();
    const settings = await p.request('/api/mail/smtp', { method: 'PUT', headers: owner.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'kyc@hoster.test' } });
    expect(settings.status).toBe(200);
  });
  afterAll(async () => {
    await workers.killAll();
    await p?.close();
    await smtp?.close();
  });

  const caseOf = async (customerId: string) => (await p.db.select().from(kycCases).where(eq(kycCases.customerId, customerId)))[0];
  const emailRow = async (key: string) => (await p.db.select().from(outboundEmails).where(and(eq(outboundEmails.kind, 'kyc'), eq(outboundEmails.key, key))))[0];

  it('each reminder and escalation arrives once; no case outlives its expiry by more than one interval', { timeout: 300_000 }, async () => {
    let worker = await workers.start({});
    const waiting = await Promise.all(Array.from({ length: 5 }, () => createCustomer(p, tenantId)));
    const reviewed = await createCustomer(p, tenantId);
    for (const c of [...waiting, reviewed]) expect((await p.request(`/api/kyc/cases/${c.id}`, { method: 'POST', headers: owner.headers })).status).toBe(202);
    const cases = await until('every case recorded', async () => {
      const rows = await Promise.all([...waiting, reviewed].map((c) => caseOf(c.id)));
      return rows.every(Boolean) ? rows.map((r) => r!) : undefined;
    });
    expect((await upload(p, owner, reviewed.id, PNG)).status).toBe(201);
    expect((await p.request(`/api/kyc/cases/${reviewed.id}/submit`, { method: 'POST', headers: owner.headers })).status).toBe(200);

    const first = cases[0]!.id;
    const reviewedCase = cases[5]!.id;
    // The worker dies as soon as each timer has recorded its email (before or while it is sent).
    for (const key of [`${first}/1/reminder-1`, `${reviewedCase}/1/escalation`, `${first}/1/reminder-2`]) {
      await until(`the email ${key} to be recorded`, async () => (await emailRow(key)) !== undefined, 90_000);
      await workers.kill(worker);
      worker = await workers.start({});
    }

    // Expiry: every waiting case ends `expired`, recorded within one interval of its expiry.
    const waitingIds = cases.slice(0, 5).map((c) => c.id);
    await until('every waiting case expired', async () => (await p.db.select().from(kycCases).where(inArray(kycCases.id, waitingIds))).every((c) => c.state === 'expired'), 120_000);
    const late: number[] = [];
    for (const c of cases.slice(0, 5)) {
      const [expired] = await p.db.select().from(kycCaseEvents).where(and(eq(kycCaseEvents.caseId, c.id), eq(kycCaseEvents.event, 'expired')));
      late.push(expired!.at.getTime() - c.expiresAt!.getTime());
    }
    console.info(`KYC expiry recorded after the expiry by ${late.join(', ')} ms (interval ${INTERVAL} ms)`);
    expect(late.every((ms) => ms >= 0 && ms <= INTERVAL)).toBe(true);
    expect((await caseOf(reviewed.id))!.state).toBe('in_review');

    // Each email once: the opening request, two reminders per waiting case, the escalation.
    const expected = [
      ...cases.map((c) => `${c.id}/opened`),
      ...waitingIds.flatMap((id) => [`${id}/1/reminder-1`, `${id}/1/reminder-2`]),
      `${reviewedCase}/1/escalation`,
    ];
    await until('every email sent', async () => (await Promise.all(expected.map(emailRow))).every((r) => r?.status === 'sent'), 120_000);
    await new Promise((r) => setTimeout(r, 3_000));
    const rows = await p.db.select().from(outboundEmails).where(eq(outboundEmails.kind, 'kyc'));
    expect(rows.map((r) => r.key).sort()).toEqual([...expected].sort());
    // Three kills, each as an email had just been recorded (see expectOncePerMessageId).
    expectOncePerMessageId(smtp.messages, rows, 3);
    await workers.kill(worker);
  });
});
