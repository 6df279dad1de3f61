import { kycDocuments } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, PDF, PNG, signInCustomer, upload } from '../../../../test/kyc-harness';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { until } from '../../../../test/worker-process';
import { startSmtpReceiver, type SmtpReceiver } from '../../../../test/smtp';
import { CaseDetailSchema, CaseListSchema, CaseViewSchema, DocumentSchema } from './schema';

const messageOf = async (res: Response) => ((await res.json()) as { message: string }).message;

/** The timeline in seconds: reminders, SLA, validity and retention all pass within the test. */
const TIMELINE = { remindersMs: [60_000], documentsDueMs: 120_000, reviewSlaMs: 60_000, validForMs: 120_000, reverifyAheadMs: 30_000, retentionMs: 1_500 };

describe('/api/kyc', () => {
  let p: TestPlatform;
  let smtp: SmtpReceiver;
  let tenantId: string;
  let owner: SignedIn;
  let reviewer: SignedIn;
  let operator: SignedIn;
  let otherOwner: SignedIn;

  beforeAll(async () => {
    p = await createTestPlatform();
    p.deps.config.kycTimeline = TIMELINE;
    tenantId = (await p.createTenant()).id;
    owner = await p.signIn({ tenantId, role: 'owner' });
    reviewer = await p.signIn({ tenantId, role: 'billing' });
    operator = await p.signIn({ tenantId, role: 'operator' });
    otherOwner = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
    smtp = await startSmtpReceiver();
    const settings = await p.request('/api/mail/smtp', { method: 'PUT', headers: owner.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'kyc@hoster.test' } });
    expect(settings.status).toBe(200);
    await p.startCoreWorker();
  });
  afterAll(async () => {
    await p?.close();
    await smtp?.close();
  });

  const caseOf = async (who: SignedIn, customerId: string) => {
    const res = await p.request(`/api/kyc/cases/${customerId}`, { headers: who.headers });
    expect(res.status).toBe(200);
    return CaseDetailSchema.parse(await res.json());
  };
  const decide = (who: SignedIn, customerId: string, body: unknown) => p.request(`/api/kyc/cases/${customerId}/decision`, { headers: who.headers, body });

  it('a customer uploads (type by content, size limit), submits; a reviewer approves through validated updates; documents are sealed and deleted by retention', async () => {
    const customer = await createCustomer(p, tenantId);
    const me = await signInCustomer(p, tenantId, customer.id);
    const other = await createCustomer(p, tenantId);

    // Open twice: one case, one run.
    const first = await p.request(`/api/kyc/cases/${customer.id}`, { method: 'POST', headers: me.headers });
    expect(first.status).toBe(202);
    const second = await p.request(`/api/kyc/cases/${customer.id}`, { method: 'POST', headers: me.headers, body: {} });
    expect(second.status).toBe(202);
    expect(((await second.json()) as { workflowId: string }).workflowId).toBe(`kyc/${customer.id}`);
    const opened = await until('the case is recorded', async () => (await caseOf(me, customer.id)).case ?? undefined);
    expect(opened.state).toBe('awaiting_documents');
    await smtp.waitForMessage((m) => m.to.includes(customer.email) && m.subject === 'Please verify your identity');

    // Type is judged by content: a PNG named .pdf is a PNG; text named .png is refused.
    const text = await upload(p, me, customer.id, Buffer.from('just text, not an image'), 'kind=passport&filename=passport.png');
    expect(text.status).toBe(400);
    expect((await messageOf(text))).toContain('its content is not a recognised type');
    const tooBig = await upload(p, me, customer.id, Buffer.concat([PNG, Buffer.alloc(10 * 1024 * 1024)]));
    expect(tooBig.status).toBe(413);
    const badKind = await upload(p, me, customer.id, PNG, 'kind=selfie&filename=x.png');
    expect(badKind.status).toBe(400);
    expect((await messageOf(badKind))).toContain('kind');
    const png = DocumentSchema.parse(await (await upload(p, me, customer.id, PNG, 'kind=passport&filename=scan.pdf&expiresOn=2099-01-01')).json());
    expect(png).toMatchObject({ contentType: 'image/png', size: PNG.length, caseId: null });
    const pdf = DocumentSchema.parse(await (await upload(p, me, customer.id, PDF, 'kind=proof_of_address&filename=bill')).json());
    expect(pdf.contentType).toBe('application/pdf');

    // Sealed at rest: the stored bytes are not the document.
    const [stored] = await p.db.select().from(kycDocuments).where(eq(kycDocuments.id, png.id));
    expect(stored!.contentSealed!.includes(PNG.subarray(8, 24))).toBe(false);

    // Isolation: another customer's user and another organization see nothing of it.
    const stranger = await signInCustomer(p, tenantId, other.id);
    expect((await p.request(`/api/kyc/cases/${customer.id}`, { headers: stranger.headers })).status).toBe(404);
    expect((await upload(p, stranger, customer.id, PNG)).status).toBe(404);
    expect((await p.request(`/api/kyc/cases/${customer.id}`, { headers: otherOwner.headers })).status).toBe(404);
    expect((await p.request(`/api/kyc/documents/${png.id}/content`, { headers: otherOwner.headers })).status).toBe(404);
    expect(CaseListSchema.parse(await (await p.request('/api/kyc/cases', { headers: stranger.headers })).json()).items).toEqual([]);

    // Deciding before submission is refused by the workflow's validator (409, the rule named).
    const early = await decide(reviewer, customer.id, { decision: 'approve' });
    expect(early.status).toBe(409);
    expect((await messageOf(early))).toContain('only a case in review');

    const submitted = await p.request(`/api/kyc/cases/${customer.id}/submit`, { method: 'POST', headers: me.headers });
    expect(submitted.status).toBe(200);
    expect(CaseViewSchema.parse(await submitted.json()).state).toBe('in_review');

    // The queue shows it with its SLA; customers and operators may not decide.
    const queue = CaseListSchema.parse(await (await p.request('/api/kyc/cases?state=in_review', { headers: reviewer.headers })).json());
    const queued = queue.items.find((c) => c.customerId === customer.id)!;
    expect(queued.reviewDueAt).not.toBeNull();
    expect((await decide(me, customer.id, { decision: 'approve' })).status).toBe(403);
    expect((await decide(operator, customer.id, { decision: 'approve' })).status).toBe(403);
    expect((await p.request(`/api/kyc/documents/${png.id}/content`, { headers: me.headers })).status).toBe(403);

    // A reject needs a reason; a reviewer who is the customer's contact cannot decide it.
    const noReason = await decide(reviewer, customer.id, { decision: 'reject', reason: '  ' });
    expect(noReason.status).toBe(409);
    expect((await messageOf(noReason))).toContain('needs a reason');
    const insider = await p.signIn({ tenantId, role: 'billing' });
    const insiderCustomer = await createCustomer(p, tenantId, { email: insider.email });
    expect((await decide(insider, insiderCustomer.id, { decision: 'approve' })).status).toBe(403);
    expect((await decide(reviewer, customer.id, { decision: 'maybe' })).status).toBe(400);

    // Reviewers read the document as uploaded.
    const content = await p.request(`/api/kyc/documents/${png.id}/content`, { headers: reviewer.headers });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await content.arrayBuffer()).equals(PNG)).toBe(true);

    // The decision is answered synchronously by the workflow.
    const approved = await decide(reviewer, customer.id, { decision: 'approve', reason: 'passport matches' });
    expect(approved.status).toBe(200);
    expect(CaseViewSchema.parse(await approved.json()).state).toBe('approved');
    const detail = await caseOf(me, customer.id);
    expect(detail.case!.state).toBe('approved');
    expect(new Date(detail.case!.validUntil!).getTime()).toBeGreaterThan(Date.now());
    expect(detail.history.map((h) => h.event)).toEqual(['opened', 'submitted', 'in_review', 'approved']);
    expect((await decide(reviewer, customer.id, { decision: 'approve' })).status).toBe(409);

    // Retention: after the decision, the documents' content is deleted.
    await until('documents deleted by retention', async () => (await caseOf(reviewer, customer.id)).documents.every((d) => d.deletedAt !== null), 20_000);
    const [gone] = await p.db.select().from(kycDocuments).where(eq(kycDocuments.id, png.id));
    expect(gone!.contentSealed).toBeNull();
    expect((await p.request(`/api/kyc/documents/${png.id}/content`, { headers: reviewer.headers })).status).toBe(404);
  });

  it('a high-risk customer needs two different approvers; a rejection may be resubmitted, a final one ends the case', async () => {
    const customer = await createCustomer(p, tenantId);
    const me = await signInCustomer(p, tenantId, customer.id);
    expect((await p.request(`/api/kyc/cases/${customer.id}`, { method: 'POST', headers: owner.headers, body: { highRisk: true } })).status).toBe(202);
    await until('the case is recorded', async () => (await caseOf(me, customer.id)).case ?? undefined);
    await upload(p, me, customer.id, PNG);
    expect((await p.request(`/api/kyc/cases/${customer.id}/submit`, { method: 'POST', headers: me.headers })).status).toBe(200);

    const one = await decide(reviewer, customer.id, { decision: 'approve' });
    expect(CaseViewSchema.parse(await one.json())).toMatchObject({ state: 'in_review', approvals: [{ by: `user:${reviewer.userId}` }] });
    const again = await decide(reviewer, customer.id, { decision: 'approve' });
    expect(again.status).toBe(409);
    expect((await messageOf(again))).toContain('second approval by another reviewer');

    // Rejected with a reason: the customer sees it and may upload again.
    const rejected = await decide(owner, customer.id, { decision: 'reject', reason: 'photo is blurred' });
    expect(CaseViewSchema.parse(await rejected.json())).toMatchObject({ state: 'rejected', reason: 'photo is blurred' });
    expect((await caseOf(me, customer.id)).case).toMatchObject({ state: 'rejected', reason: 'photo is blurred' });
    await smtp.waitForMessage((m) => m.to.includes(customer.email) && m.text.includes('photo is blurred'));
    await upload(p, me, customer.id, PDF, 'kind=id_card&filename=id.pdf');
    expect((await p.request(`/api/kyc/cases/${customer.id}/submit`, { method: 'POST', headers: me.headers })).status).toBe(200);
    const final = await decide(owner, customer.id, { decision: 'reject', reason: 'forged document', final: true });
    expect(CaseViewSchema.parse(await final.json()).state).toBe('rejected_final');
    // Rejected for good: the customer cannot open a new case, staff can.
    const reopen = await p.request(`/api/kyc/cases/${customer.id}`, { method: 'POST', headers: me.headers });
    expect(reopen.status).toBe(409);
  });
});
