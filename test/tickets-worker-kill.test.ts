import { outboundEmails, tickets } from '@keelson/db/schema';
import { and, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TicketDetailSchema } from '../api/src/routes/tickets/schema';
import { createCustomer, signInCustomer } from './kyc-harness';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { expectOncePerMessageId, startSmtpReceiver, type SmtpReceiver } from './smtp';
import { until, workerProcesses } from './worker-process';

/**
 * Tickets' timers with the worker process SIGKILLed at each of them: as soon as an escalation,
 * a warning or an auto-close has recorded its email, the worker dies and another starts. Each
 * email still reaches the SMTP receiver exactly once, with its deterministic Message-ID.
 */
describe('ticket reminders and escalations with the worker SIGKILLed at each', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let owner: SignedIn;
  let agent: SignedIn;
  let me: SignedIn;
  const workers = workerProcesses(() => p);

  beforeAll(async () => {
    p = await createTestPlatform();
    // Scaled down: an urgent ticket is due an answer in 3 s and a resolution in 8 s; a ticket
    // waiting on the customer is warned after 6 s and closed after 12 s.
    p.deps.config.ticketTimeline = {
      firstResponseMs: { urgent: 3_000, normal: 600_000 },
      resolutionMs: { urgent: 8_000, normal: 600_000 },
      autoCloseAfterMs: 12_000,
      autoCloseWarningMs: 6_000,
    };
    const tenantId = (await p.createTenant()).id;
    owner = await p.signIn({ tenantId, role: 'owner' });
    agent = await p.signIn({ tenantId, role: 'operator' });
    smtp = await startSmtpReceiver();
    const settings = await p.request('/api/mail/smtp', { method: 'PUT', headers: owner.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'support@hoster.test' } });
    expect(settings.status).toBe(200);
    const customer = await createCustomer(p, tenantId);
    me = await signInCustomer(p, tenantId, customer.id);
  });
  afterAll(async () => {
    await workers.killAll();
    await p?.close();
    await smtp?.close();
  });

  const open = async (body: Record<string, unknown>) => {
    const res = await p.request('/api/tickets', { headers: me.headers, body });
    if (res.status !== 201) throw new Error(`${res.status}: ${await res.text()}`);
    return TicketDetailSchema.parse(await res.json());
  };
  const emailRow = async (key: string) => {
    const [row] = await p.db.select().from(outboundEmails).where(and(eq(outboundEmails.kind, 'ticket'), eq(outboundEmails.key, key)));
    return row;
  };

  it('each escalation, warning and closing email arrives as one message', { timeout: 300_000 }, async () => {
    let worker = await workers.start({});
    const urgent = await open({ subject: 'Outage', body: 'All sites are down', priority: 'urgent' });
    const answered = await open({ subject: 'DNS question', body: 'How do I add a TXT record?' });
    const reply = await p.request(`/api/tickets/${answered.id}/messages`, { headers: agent.headers, body: { body: 'Under Domains → Records.' } });
    expect(reply.status).toBe(201);

    const killPoints = [
      `${urgent.id}/1/first-response-escalation`,
      `${answered.id}/waiting-2/auto-close-warning`,
      `${urgent.id}/1/resolution-escalation`,
      `${answered.id}/waiting-2/auto-closed`,
    ];
    // The worker dies as soon as each timer has recorded its email (before or while it is sent).
    for (const key of [...killPoints].sort((a, b) => order(a) - order(b))) {
      await until(`the email ${key} to be recorded`, async () => (await emailRow(key)) !== undefined, 60_000).catch(async (err) => {
        console.error(JSON.stringify({ emails: (await p.db.select({ key: outboundEmails.key, status: outboundEmails.status }).from(outboundEmails)), tickets: await p.db.select({ id: tickets.id, status: tickets.status, version: tickets.version, waitingSince: tickets.waitingSince, autoCloseAt: tickets.autoCloseAt }).from(tickets) }, null, 1));
        throw err;
      });
      await workers.kill(worker);
      worker = await workers.start({});
    }

    const expected = [...killPoints, `${urgent.id}/message/1`, `${answered.id}/message/1`, `${answered.id}/message/2`];
    await until('every email sent', async () => (await Promise.all(expected.map(emailRow))).every((r) => r?.status === 'sent'), 120_000);
    await until('the answered ticket closed', async () => {
      const [row] = await p.db.select({ status: tickets.status }).from(tickets).where(eq(tickets.id, answered.id));
      return row?.status === 'closed';
    });
    // Give a duplicate every chance to arrive.
    await new Promise((r) => setTimeout(r, 3_000));

    const rows = await p.db.select().from(outboundEmails).where(and(eq(outboundEmails.kind, 'ticket'), like(outboundEmails.key, '%/%')));
    expect(rows.map((r) => r.key).sort()).toEqual([...expected].sort());
    // One kill per kill point, each as an email had just been recorded (see expectOncePerMessageId).
    expectOncePerMessageId(smtp.messages, rows, killPoints.length);
    await workers.kill(worker);
  });
});

/** The order the timers fire in with the timeline above. */
function order(key: string): number {
  return key.endsWith('first-response-escalation') ? 0 : key.endsWith('auto-close-warning') ? 1 : key.endsWith('resolution-escalation') ? 2 : 3;
}
