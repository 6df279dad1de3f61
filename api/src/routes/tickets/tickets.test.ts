import { outboundEmails } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, PDF, PNG, signInCustomer } from '../../../../test/kyc-harness';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { startSmtpReceiver, type ReceivedEmail, type SmtpReceiver } from '../../../../test/smtp';
import { until } from '../../../../test/worker-process';
import { TicketDetailSchema, TicketListSchema, TicketViewSchema } from './schema';

/**
 * Tickets through the API, run by the platform's core worker with every duration in seconds:
 * urgent tickets are due a first response in 1.5 s and a resolution in 3 s; a ticket waiting on
 * the customer is warned after 2 s and closed after 4 s.
 */
const TIMELINE = {
  firstResponseMs: { low: 600_000, normal: 600_000, high: 600_000, urgent: 1_500 },
  resolutionMs: { low: 600_000, normal: 600_000, high: 600_000, urgent: 3_000 },
  autoCloseAfterMs: 4_000,
  autoCloseWarningMs: 2_000,
  reopenWindowMs: 600_000,
};

type Detail = ReturnType<typeof TicketDetailSchema.parse>;

describe('/api/tickets', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let tenantId: string;
  let owner: SignedIn;
  let agent: SignedIn;
  let viewer: SignedIn;
  let otherOwner: SignedIn;

  beforeAll(async () => {
    p = await createTestPlatform();
    p.deps.config.ticketTimeline = TIMELINE;
    tenantId = (await p.createTenant()).id;
    owner = await p.signIn({ tenantId, role: 'owner' });
    agent = await p.signIn({ tenantId, role: 'operator' });
    viewer = await p.signIn({ tenantId, role: 'viewer' });
    otherOwner = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
    smtp = await startSmtpReceiver();
    const settings = await p.request('/api/mail/smtp', { method: 'PUT', headers: owner.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'support@hoster.test' } });
    expect(settings.status).toBe(200);
    await p.startCoreWorker();
  });
  afterAll(async () => {
    await p?.close();
    await smtp?.close();
  });

  const messageOf = async (res: Response) => ((await res.json()) as { message: string }).message;
  const open = async (who: SignedIn, body: Record<string, unknown>) => {
    const res = await p.request('/api/tickets', { headers: who.headers, body });
    if (res.status !== 201) throw new Error(`${res.status}: ${await res.text()}`);
    return TicketDetailSchema.parse(await res.json());
  };
  const ticket = async (who: SignedIn, id: string) => {
    const res = await p.request(`/api/tickets/${id}`, { headers: who.headers });
    expect(res.status).toBe(200);
    return TicketDetailSchema.parse(await res.json());
  };
  const write = (who: SignedIn, id: string, body: Record<string, unknown>) => p.request(`/api/tickets/${id}/messages`, { headers: who.headers, body });
  const attach = (who: SignedIn, bytes: Buffer, filename = 'screenshot.png') =>
    p.app.request(`/api/tickets/attachments?filename=${filename}`, { method: 'POST', headers: { ...who.headers, 'content-type': 'application/octet-stream' }, body: bytes });
  const about = (ref: string) => (m: ReceivedEmail) => m.subject.includes(`[${ref}]`);
  const received = (match: (m: ReceivedEmail) => boolean) => smtp.messages.filter(match);

  it('a customer opens a ticket with an attachment, staff answer; each message emails the other side once; the customer sees only their own', async () => {
    const customer = await createCustomer(p, tenantId);
    const me = await signInCustomer(p, tenantId, customer.id);
    const other = await createCustomer(p, tenantId);
    const stranger = await signInCustomer(p, tenantId, other.id);

    // Attachments: type by content, size limit.
    const text = await attach(me, Buffer.from('\u0000\u0001binary junk'), 'log.txt');
    expect(text.status).toBe(400);
    expect(await messageOf(text)).toContain('not a recognised type');
    expect((await attach(me, Buffer.alloc(5 * 1024 * 1024 + 1, 1))).status).toBe(413);
    const shot = await attach(me, PNG, 'screenshot.pdf');
    expect(shot.status).toBe(201);
    const file = (await shot.json()) as { id: string; contentType: string };
    expect(file.contentType).toBe('image/png');
    const log = (await (await attach(me, Buffer.from('error: disk full\n'), 'app.log')).json()) as { id: string; contentType: string };
    expect(log.contentType).toBe('text/plain');

    // Bad input is a 400 naming the field; someone else's upload cannot be attached.
    const noSubject = await p.request('/api/tickets', { headers: me.headers, body: { subject: ' ', body: 'help' } });
    expect(noSubject.status).toBe(400);
    expect(await messageOf(noSubject)).toContain('subject');
    const badService = await p.request('/api/tickets', { headers: me.headers, body: { subject: 'x', body: 'y', subscriptionId: crypto.randomUUID() } });
    expect(badService.status).toBe(400);
    expect(await messageOf(badService)).toContain('subscriptionId');
    const theirs = (await (await attach(stranger, PDF, 'x.pdf')).json()) as { id: string };
    const stolen = await p.request('/api/tickets', { headers: me.headers, body: { subject: 'x', body: 'y', attachmentIds: [theirs.id] } });
    expect(stolen.status).toBe(400);
    expect(await messageOf(stolen)).toContain('attachmentIds');

    const opened = await open(me, { subject: 'Server unreachable', body: 'My VPS does not answer since 10:00.', attachmentIds: [file.id, log.id] });
    expect(opened).toMatchObject({ status: 'open', priority: 'normal', customer: { id: customer.id }, messageCount: 1 });
    expect(opened.reference).toMatch(/^T-\d{4}-\d{4}$/);
    expect(opened.messages[0]).toMatchObject({ authorKind: 'customer', body: 'My VPS does not answer since 10:00.' });
    expect(opened.messages[0]!.attachments.map((a) => a.contentType).sort()).toEqual(['image/png', 'text/plain']);

    // Staff (everyone who answers tickets) are emailed the new ticket.
    const toStaff = await smtp.waitForMessage((m) => about(opened.reference)(m) && m.text.includes('does not answer since 10:00'));
    expect(toStaff.to).toContain(agent.email);
    expect(toStaff.to).not.toContain(me.email);
    expect(toStaff.text).toContain('screenshot.pdf');

    // Isolation: another customer's user, another organization.
    expect((await p.request(`/api/tickets/${opened.id}`, { headers: stranger.headers })).status).toBe(404);
    expect((await write(stranger, opened.id, { body: 'me too' })).status).toBe(404);
    expect(TicketListSchema.parse(await (await p.request('/api/tickets', { headers: stranger.headers })).json()).items).toEqual([]);
    expect((await p.request(`/api/tickets/${opened.id}`, { headers: otherOwner.headers })).status).toBe(404);
    expect((await p.request(`/api/tickets/attachments/${file.id}/content`, { headers: stranger.headers })).status).toBe(404);
    expect(TicketListSchema.parse(await (await p.request('/api/tickets', { headers: me.headers })).json()).items.map((t) => t.id)).toEqual([opened.id]);

    // Permissions: a viewer reads but does not answer; a customer does not assign.
    expect((await p.request(`/api/tickets/${opened.id}`, { headers: viewer.headers })).status).toBe(200);
    expect((await write(viewer, opened.id, { body: 'hi' })).status).toBe(403);
    expect((await p.request(`/api/tickets/${opened.id}/assign`, { headers: me.headers, body: { assigneeId: agent.userId } })).status).toBe(403);
    const notStaff = await p.request(`/api/tickets/${opened.id}/assign`, { headers: owner.headers, body: { assigneeId: me.userId } });
    expect(notStaff.status).toBe(400);
    expect(await messageOf(notStaff)).toContain('assigneeId');

    // Assign and answer: the customer is emailed the answer, once.
    const assigned = await p.request(`/api/tickets/${opened.id}/assign`, { headers: owner.headers, body: { assigneeId: agent.userId } });
    expect(TicketViewSchema.parse(await assigned.json())).toMatchObject({ assigneeId: agent.userId });
    await smtp.waitForMessage((m) => m.subject.startsWith('Assigned to you') && m.to.includes(agent.email));
    const answer = await write(agent, opened.id, { body: 'We restarted the host; please check.' });
    expect(answer.status).toBe(201);
    const toCustomer = await smtp.waitForMessage((m) => m.to.includes(me.email) && m.text.includes('We restarted the host'));
    expect(toCustomer.subject).toBe(`Re: [${opened.reference}] Server unreachable`);
    const answered = await until('the answer is taken', async () => {
      const t = await ticket(me, opened.id);
      return t.status === 'waiting_on_customer' ? t : undefined;
    });
    expect(answered.firstRespondedAt).not.toBeNull();
    expect(answered.assignee).toMatchObject({ id: agent.userId });

    // The customer answers: only the assignee is emailed; the ticket waits on staff again.
    expect((await write(me, opened.id, { body: 'Works again, thanks' })).status).toBe(201);
    const back = await smtp.waitForMessage((m) => m.text.includes('Works again, thanks'));
    expect(back.to).toEqual([agent.email]);
    await until('open again', async () => (await ticket(agent, opened.id)).status === 'open');

    // Each message went out exactly once, at the SMTP receiver and in the outbox.
    const rows = await until('every email of the ticket marked sent', async () => {
      const all = await p.db.select().from(outboundEmails).where(and(eq(outboundEmails.tenantId, tenantId), eq(outboundEmails.resource, `ticket:${opened.id}`)));
      return all.length === 4 && all.every((r) => r.status === 'sent') ? all : undefined;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    for (const phrase of ['does not answer since 10:00', 'We restarted the host', 'Works again, thanks']) expect(received((m) => m.text.includes(phrase))).toHaveLength(1);
    expect(rows.map((r) => r.key.replace(/assigned\/\d+$/, 'assigned')).sort()).toEqual([`${opened.id}/assigned`, `${opened.id}/message/1`, `${opened.id}/message/2`, `${opened.id}/message/3`].sort());

    // Attachments are readable on the ticket by both sides.
    const content = await p.request(`/api/tickets/attachments/${file.id}/content`, { headers: agent.headers });
    expect(content.status).toBe(200);
    expect(Buffer.from(await content.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it("a ticket's SLA escalation fires once per deadline; the list shows it breached", async () => {
    const customer = await createCustomer(p, tenantId);
    const me = await signInCustomer(p, tenantId, customer.id);
    const t = await open(me, { subject: 'Site down', body: 'Everything is down', priority: 'urgent' });
    const first = await smtp.waitForMessage((m) => m.subject === `Escalation: [${t.reference}] Site down is past its first response deadline`, 20_000);
    expect(first.to).toContain(owner.email);
    await smtp.waitForMessage((m) => m.subject === `Escalation: [${t.reference}] Site down is past its resolution deadline`, 20_000);
    const breached = TicketListSchema.parse(await (await p.request('/api/tickets?sla=breached', { headers: agent.headers })).json()).items;
    expect(breached.map((x) => x.id)).toContain(t.id);
    const row = await ticket(agent, t.id);
    expect(row.sla.state).toBe('breached');
    expect(row.firstResponseEscalatedAt).not.toBeNull();
    expect(row.resolutionEscalatedAt).not.toBeNull();
    // Time passes well beyond both deadlines: no second escalation.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(received((m) => m.subject.startsWith(`Escalation: [${t.reference}]`))).toHaveLength(2);
  });

  it('an answered ticket is warned, then auto-closed; a customer message reopens it', async () => {
    const customer = await createCustomer(p, tenantId);
    const me = await signInCustomer(p, tenantId, customer.id);
    const t = await open(me, { subject: 'Invoice question', body: 'Why two lines?' });
    expect((await write(agent, t.id, { body: 'One is the setup fee.' })).status).toBe(201);
    const warning = await smtp.waitForMessage((m) => m.subject === `Re: [${t.reference}] Invoice question will be closed soon`, 20_000);
    expect(warning.to).toEqual([me.email]);
    const closedMail = await smtp.waitForMessage((m) => m.subject === `Re: [${t.reference}] Invoice question is closed`, 20_000);
    expect(closedMail.receivedAt.getTime()).toBeGreaterThan(warning.receivedAt.getTime());
    const closed = await until('closed', async () => {
      const x = await ticket(me, t.id);
      return x.status === 'closed' ? x : undefined;
    });
    expect(closed.closeReason).toBe('no answer from the customer');
    expect(received((m) => m.subject.includes('will be closed soon') && about(t.reference)(m))).toHaveLength(1);

    // A new customer message reopens it: a new round, staff emailed.
    expect((await write(me, t.id, { body: 'Sorry, one more question' })).status).toBe(201);
    const reopened = await until('reopened', async () => {
      const x = await ticket(agent, t.id);
      return x.status === 'open' ? x : undefined;
    });
    expect(reopened.firstResponseDueAt).not.toBeNull();
    expect(reopened.closedAt).toBeNull();
    await smtp.waitForMessage((m) => m.text.includes('Sorry, one more question'));
  });

  it("merges a ticket into another of the same customer; priority and close are the run's, refused ones are 409", async () => {
    const customer = await createCustomer(p, tenantId);
    const me = await signInCustomer(p, tenantId, customer.id);
    const a = await open(me, { subject: 'Backup failed', body: 'Backup job failed tonight' });
    const b = await open(me, { subject: 'Backup failed again', body: 'And again' });
    const foreign = await open(owner, { customerId: (await createCustomer(p, tenantId)).id, subject: 'Other', body: 'Other customer' });
    const cross = await p.request(`/api/tickets/${b.id}/merge`, { headers: agent.headers, body: { intoId: foreign.id } });
    expect(cross.status).toBe(400);
    expect(await messageOf(cross)).toContain('intoId');

    const prio = await p.request(`/api/tickets/${a.id}/priority`, { headers: agent.headers, body: { priority: 'high' } });
    expect(TicketViewSchema.parse(await prio.json()).priority).toBe('high');
    expect((await p.request(`/api/tickets/${a.id}/priority`, { headers: agent.headers, body: { priority: 'asap' } })).status).toBe(400);

    const merged = await p.request(`/api/tickets/${b.id}/merge`, { headers: agent.headers, body: { intoId: a.id } });
    expect(merged.status).toBe(200);
    expect(TicketViewSchema.parse(await merged.json())).toMatchObject({ status: 'merged', mergedIntoId: a.id });
    const into: Detail = await ticket(me, a.id);
    expect(into.merged.map((m) => m.reference)).toEqual([b.reference]);
    expect(into.messages.map((m) => m.body)).toEqual(['Backup job failed tonight', 'And again', expect.stringContaining(`${b.reference}`)]);
    const late = await write(me, b.id, { body: 'hello?' });
    expect(late.status).toBe(409);
    expect(await messageOf(late)).toContain(a.reference);

    // The customer may close their own ticket; closing it twice is refused by the run.
    const closed = await p.request(`/api/tickets/${a.id}/close`, { headers: me.headers, body: {} });
    expect(TicketViewSchema.parse(await closed.json()).status).toBe('closed');
    const again = await p.request(`/api/tickets/${a.id}/close`, { headers: agent.headers, body: {} });
    expect(again.status).toBe(409);
    expect(await messageOf(again)).toContain('only an open ticket');
    // The system note of the merge emailed nobody.
    await new Promise((r) => setTimeout(r, 500));
    expect(received((m) => m.text.includes('was merged into this ticket'))).toHaveLength(0);
  });
});
