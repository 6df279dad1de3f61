import { createMailActivities } from '@keelson/activities/mail/index';
import { outboundEmails, smtpSettings } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { startSmtpReceiver, type SmtpReceiver } from '../../../../test/smtp';
import { EmailListSchema, SmtpSettingsSchema, SmtpSettingsStateSchema, SmtpTestResultSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() });

describe('/api/mail', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let admin: SignedIn;
  let owner: SignedIn;
  let operator: SignedIn;
  let billing: SignedIn;
  let customer: SignedIn;
  let otherAdmin: SignedIn;
  const login = { username: 'keelson', password: 'smtp secret 42' };

  beforeAll(async () => {
    p = await createTestPlatform();
    await p.startCoreWorker();
    smtp = await startSmtpReceiver({ auth: login, rejectRecipients: (a) => a.startsWith('nobody@') });
    const tenant = await p.createTenant();
    admin = await p.signIn({ tenantId: tenant.id, role: 'admin' });
    owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    billing = await p.signIn({ tenantId: tenant.id, role: 'billing' });
    customer = await p.signIn({ tenantId: tenant.id, role: 'customer' });
    otherAdmin = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'admin' });
  });
  afterAll(async () => {
    await p?.close();
    await smtp?.close();
  });

  const settingsBody = () => ({ host: '127.0.0.1', port: smtp.port, security: 'none', username: login.username, password: login.password, fromAddress: 'billing@hoster.test', fromName: 'Hoster Billing' });
  const put = (who: SignedIn | Record<string, string>, body: unknown) =>
    p.request('/api/mail/smtp', { method: 'PUT', headers: 'headers' in who ? (who as SignedIn).headers : (who as Record<string, string>), body });
  const getSettings = async (who: SignedIn) => SmtpSettingsStateSchema.strict().parse(await (await p.request('/api/mail/smtp', { headers: who.headers })).json()).settings;
  const sendTest = async (who: SignedIn, to: string) => {
    const res = await p.request('/api/mail/smtp/test', { headers: who.headers, body: { to } });
    expect(res.status).toBe(200);
    return SmtpTestResultSchema.parse(await res.json());
  };

  it('stores the SMTP settings with the password sealed, and never returns it', async () => {
    expect(await getSettings(admin)).toBeNull();
    const res = await put(admin, settingsBody());
    expect(res.status).toBe(200);
    const stored = SmtpSettingsSchema.strict().parse(await res.json());
    expect(stored).toMatchObject({ host: '127.0.0.1', port: smtp.port, security: 'none', username: 'keelson', passwordSet: true, fromAddress: 'billing@hoster.test' });
    expect(JSON.stringify(await getSettings(owner))).not.toContain(login.password);

    const [row] = await p.db.select().from(smtpSettings).where(eq(smtpSettings.tenantId, admin.tenantId));
    expect(row!.passwordSealed).toMatch(/^v1\./);
    expect(row!.passwordSealed).not.toContain(login.password);

    // Left out keeps the stored password; the audit row says so without the password.
    const { password: _password, ...withoutPassword } = settingsBody();
    expect((await put(admin, { ...withoutPassword, fromName: 'Billing' })).status).toBe(200);
    const [again] = await p.db.select().from(smtpSettings).where(eq(smtpSettings.tenantId, admin.tenantId));
    expect(again!.passwordSealed).toBe(row!.passwordSealed);
    const audit = JSON.stringify(await (await p.request('/api/audit?action=mail.smtp.set', { headers: admin.headers })).json());
    expect(audit).toContain('"password":"kept"');
    expect(audit).not.toContain(login.password);
  });

  it('sends a test email through the stored server, as a run, with a Message-ID that is its own', async () => {
    const result = await sendTest(admin, 'ops@hoster.test');
    expect(result).toMatchObject({ status: 'sent', error: null, run: { operation: 'mail.test' } });
    const got = await smtp.waitForMessage((m) => m.messageId === result.messageId);
    expect(got).toMatchObject({ user: 'keelson', to: ['ops@hoster.test'], envelope: { from: 'billing@hoster.test' } });
    expect(got.from).toContain('Billing');
    expect(got.subject).toContain('test email');
    expect(got.text).toContain('SMTP settings work');
    expect(result.messageId).toMatch(/^<smtp\.test\.[0-9a-f]{40}@hoster\.test>$/);

    // The run is the organization's, and lists as mail.test.
    const run = await p.request(`/api/runs/${encodeURIComponent(result.run.workflowId)}`, { headers: admin.headers });
    expect(run.status).toBe(200);
    expect((await p.request(`/api/runs/${encodeURIComponent(result.run.workflowId)}`, { headers: otherAdmin.headers })).status).toBe(404);
  });

  it('reports a refused login and a refused recipient as a failed test, naming the cause', async () => {
    expect((await put(admin, { ...settingsBody(), password: 'wrong password' })).status).toBe(200);
    const refused = await sendTest(admin, 'ops@hoster.test');
    // A refused login is retried (an admin may fix it); the test run tries twice, then fails.
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatch(/Invalid username or password|535/);

    expect((await put(admin, settingsBody())).status).toBe(200);
    const unknown = await sendTest(admin, 'nobody@hoster.test');
    expect(unknown.status).toBe('failed');
    expect(unknown.error).toContain('nobody@hoster.test');
    const [row] = await p.db.select().from(outboundEmails).where(eq(outboundEmails.messageId, await messageIdOf(unknown.run.workflowId)));
    expect(row).toMatchObject({ status: 'failed' });
  });

  it('records each email once per business key, and never sends a sent one again', async () => {
    const mail = createMailActivities({ db: p.db, keys: TEST_KEYS });
    const request = {
      tenantId: admin.tenantId,
      kind: 'invoice',
      key: 'INV-test-1',
      to: ['customer@example.test'],
      subject: 'Invoice INV-test-1',
      text: 'Your invoice is attached.',
      resource: 'invoice:test-1',
      attachments: [{ filename: 'INV-test-1.txt', contentType: 'text/plain', contentBase64: Buffer.from('line 1\nline 2\n').toString('base64') }],
    };
    const first = await mail.queueEmail(request);
    const second = await mail.queueEmail({ ...request, subject: 'a different subject', to: ['someone-else@example.test'] });
    expect(first.created).toBe(true);
    expect(second).toEqual({ ...first, created: false });

    const sent = await mail.deliverEmail({ tenantId: admin.tenantId, emailId: first.emailId });
    const again = await mail.deliverEmail({ tenantId: admin.tenantId, emailId: first.emailId });
    expect(sent).toMatchObject({ status: 'sent', alreadySent: false });
    expect(again).toMatchObject({ status: 'sent', alreadySent: true, messageId: sent.messageId });

    const got = await smtp.waitForMessage((m) => m.messageId === first.messageId);
    expect(got.subject).toBe('Invoice INV-test-1');
    expect(got.attachments).toHaveLength(1);
    expect(got.attachments[0]).toMatchObject({ filename: 'INV-test-1.txt', contentType: 'text/plain' });
    expect(got.attachments[0]!.content.toString()).toBe('line 1\nline 2\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages.filter((m) => m.messageId === first.messageId)).toHaveLength(1);

    const list = await p.request('/api/mail/emails?resource=invoice:test-1', { headers: billing.headers });
    expect(list.status).toBe(200);
    const items = EmailListSchema.strict().parse(await list.json()).items;
    expect(items).toEqual([expect.objectContaining({ kind: 'invoice', status: 'sent', attempts: 1, attachments: ['INV-test-1.txt'], messageId: first.messageId })]);
  });

  it('answers 400 naming the field, 401, 403 and keeps organizations apart', async () => {
    for (const [field, value] of [
      ['host', 'not a host!'],
      ['port', 70000],
      ['security', 'ssl'],
      ['fromAddress', 'nobody'],
    ] as const) {
      const res = await put(admin, { ...settingsBody(), [field]: value });
      expect(res.status, field).toBe(400);
      expect(ErrorSchema.parse(await res.json()).message).toContain(field);
    }
    const noUser = await put(admin, { ...settingsBody(), username: null });
    expect(noUser.status).toBe(400);
    expect(ErrorSchema.parse(await noUser.json()).message).toContain('username');
    expect((await p.request('/api/mail/smtp/test', { headers: admin.headers, body: { to: 'x' } })).status).toBe(400);
    expect((await p.request('/api/mail/smtp', { method: 'PUT', headers: admin.headers, body: '{' })).status).toBe(400);

    expect((await p.request('/api/mail/smtp')).status).toBe(401);
    for (const who of [operator, billing, customer]) {
      expect((await p.request('/api/mail/smtp', { headers: who.headers })).status).toBe(403);
      expect((await put(who, settingsBody())).status).toBe(403);
      expect((await p.request('/api/mail/smtp/test', { headers: who.headers, body: { to: 'a@b.test' } })).status).toBe(403);
    }
    expect((await p.request('/api/mail/emails', { headers: customer.headers })).status).toBe(403);
    expect((await put({ cookie: admin.cookie }, settingsBody())).status).toBe(403);

    // Another organization has settings of its own (none) and sees none of these emails.
    expect(await getSettings(otherAdmin)).toBeNull();
    const theirs = EmailListSchema.parse(await (await p.request('/api/mail/emails', { headers: otherAdmin.headers })).json());
    expect(theirs.items).toEqual([]);
    const test = await p.request('/api/mail/smtp/test', { headers: otherAdmin.headers, body: { to: 'a@b.test' } });
    expect(test.status).toBe(404);
  });

  async function messageIdOf(workflowId: string): Promise<string> {
    const res = await p.temporal.workflow.getHandle(workflowId).describe();
    const [row] = await p.db.select({ messageId: outboundEmails.messageId }).from(outboundEmails).where(eq(outboundEmails.key, workflowId.split('/').at(-1)!));
    expect(res.status.name).toBe('FAILED');
    return row!.messageId;
  }
});
