import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestPlatform, uniqueId, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { AuditPageSchema } from '../audit/schema';
import { InvitationSchema, MemberSchema } from './schema';

const ErrorSchema = z.object({ code: z.string(), message: z.string(), requestId: z.string() });
const StrictMember = MemberSchema.strict();
const ListSchema = z.object({ items: z.array(StrictMember) }).strict();

describe('/api/members', () => {
  let platform: TestPlatform;
  let tenantA: { id: string; slug: string };
  let tenantB: { id: string; slug: string };
  let ownerA: SignedIn;
  let adminA: SignedIn;
  let viewerA: SignedIn;
  let customerA: SignedIn;
  let adminB: SignedIn;

  beforeAll(async () => {
    platform = await createTestPlatform();
    tenantA = await platform.createTenant();
    tenantB = await platform.createTenant();
    ownerA = await platform.signIn({ tenantId: tenantA.id, role: 'owner' });
    adminA = await platform.signIn({ tenantId: tenantA.id, role: 'admin' });
    viewerA = await platform.signIn({ tenantId: tenantA.id, role: 'viewer' });
    customerA = await platform.signIn({ tenantId: tenantA.id, role: 'customer' });
    adminB = await platform.signIn({ tenantId: tenantB.id, role: 'admin' });
  });
  afterAll(() => platform.close());

  const email = () => `member-${uniqueId()}@example.test`;

  async function expectError(res: Response, status: number, code?: string) {
    expect(res.status).toBe(status);
    const body = ErrorSchema.parse(await res.json());
    if (code) expect(body.code).toBe(code);
    return body;
  }

  async function list(headers: Record<string, string>) {
    const res = await platform.request('/api/members', { headers });
    expect(res.status).toBe(200);
    return ListSchema.parse(await res.json()).items;
  }

  async function add(headers: Record<string, string>, body: unknown) {
    return platform.request('/api/members', { method: 'POST', headers, body });
  }

  /** Invites; the answer is an invitation, whoever the email belongs to. */
  async function invite(headers: Record<string, string>, body: { email: string; name: string; role: string; password: string }) {
    const res = await add(headers, body);
    expect(res.status, await res.clone().text()).toBe(202);
    return InvitationSchema.strict().parse(await res.json());
  }

  /** Invites, then the person accepts by signing in with the invitation; returns the member. */
  async function addOk(
    headers: Record<string, string>,
    body: { email: string; name: string; role: string; password: string },
    as: { password: string; organization: string } = { password: body.password, organization: tenantA.slug },
  ) {
    const invitation = await invite(headers, body);
    const res = await login({ email: body.email, password: as.password, organization: as.organization, acceptInvitations: [invitation.id] });
    expect(res.status, await res.clone().text()).toBe(200);
    const member = (await list(headers)).find((m) => m.email.toLowerCase() === body.email.toLowerCase());
    expect(member).toBeDefined();
    return member!;
  }

  const patch = (headers: Record<string, string>, userId: string, body: unknown) =>
    platform.request(`/api/members/${userId}`, { method: 'PATCH', headers, body });
  const remove = (headers: Record<string, string>, userId: string) => platform.request(`/api/members/${userId}`, { method: 'DELETE', headers });

  const login = (body: { email: string; password: string; organization?: string; acceptInvitations?: string[] }) => platform.request('/api/auth/login', { body });

  async function auditRows(query: Record<string, string>) {
    const res = await platform.request(`/api/audit?${new URLSearchParams(query)}`, { headers: ownerA.headers });
    expect(res.status).toBe(200);
    return AuditPageSchema.parse(await res.json()).items;
  }

  describe('GET /api/members', () => {
    it('lists the organization’s members with their roles', async () => {
      const items = await list(viewerA.headers);
      expect(items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ userId: ownerA.userId, email: ownerA.email, role: 'owner' }),
          expect.objectContaining({ userId: viewerA.userId, role: 'viewer' }),
        ]),
      );
      expect(items.map((m) => m.userId)).not.toContain(adminB.userId);
    });

    it('needs credentials and member.read', async () => {
      await expectError(await platform.request('/api/members'), 401);
      await expectError(await platform.request('/api/members', { headers: customerA.headers }), 403, 'forbidden');
    });
  });

  describe('POST /api/members', () => {
    it('invites a new email: the account is made, and the person joins when they accept on sign-in', async () => {
      const address = email();
      const invitation = await invite(adminA.headers, { email: address, name: 'New Person', role: 'operator', password: 'a fine password' });
      expect(invitation).toMatchObject({ email: address, role: 'operator', status: 'pending' });
      expect((await list(adminA.headers)).map((m) => m.email)).not.toContain(address);
      const listed = await platform.request('/api/members/invitations', { headers: viewerA.headers });
      expect(((await listed.json()) as { items: Array<{ id: string }> }).items.map((i) => i.id)).toContain(invitation.id);

      // Signing in without accepting says what waits, and nothing else happens.
      const pending = await login({ email: address, password: 'a fine password' });
      expect(pending.status).toBe(403);
      const body = (await pending.json()) as { code: string; details: { invitations: Array<{ id: string; role: string; organization: { slug: string } }> } };
      expect(body.code).toBe('invitation_pending');
      expect(body.details.invitations).toEqual([expect.objectContaining({ id: invitation.id, role: 'operator', organization: expect.objectContaining({ slug: tenantA.slug }) })]);

      const res = await login({ email: address, password: 'a fine password', acceptInvitations: [invitation.id] });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ role: 'operator', organization: { id: tenantA.id } });
      const member = (await list(adminA.headers)).find((m) => m.email === address)!;
      expect(member).toMatchObject({ name: 'New Person', role: 'operator' });

      const rows = await auditRows({ action: 'member.invite', resourceId: invitation.id });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actorId: adminA.userId, details: { email: address, role: 'operator' } });
      expect(JSON.stringify(rows[0])).not.toContain('a fine password');
      expect(await auditRows({ action: 'member.join', resourceId: member.userId })).toHaveLength(1);
    });

    it('invites an existing account without revealing it: same answer, name and password untouched, consent needed', async () => {
      const existing = await platform.createUser({ tenantId: tenantB.id, role: 'viewer', password: 'original password' });
      const forExisting = await add(adminA.headers, { email: existing.email.toUpperCase(), name: 'Renamed', role: 'viewer', password: 'attacker password' });
      const forNew = await add(adminA.headers, { email: email(), name: 'Someone', role: 'viewer', password: 'attacker password' });
      expect(forExisting.status).toBe(forNew.status);
      const [a, b] = [await forExisting.json(), await forNew.json()] as Array<Record<string, unknown>>;
      expect(Object.keys(a!).sort()).toEqual(Object.keys(b!).sort());
      expect(JSON.stringify(a)).not.toContain(existing.id);
      expect(JSON.stringify(a)).not.toMatch(/"name"|viewer@|userId/i);

      // Not a member until they say so; their sign-in is theirs alone.
      expect((await list(adminA.headers)).map((m) => m.userId)).not.toContain(existing.id);
      expect((await login({ email: existing.email, password: 'attacker password', organization: tenantA.slug })).status).toBe(401);
      const signedIn = await login({ email: existing.email, password: 'original password' });
      expect(signedIn.status).toBe(200);
      const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
      const csrf = ((await signedIn.json()) as { csrfToken: string }).csrfToken;
      const mine = (await (await platform.request('/api/invitations', { headers: { cookie } })).json()) as { items: Array<{ id: string; organization: { id: string } }> };
      const offer = mine.items.find((i) => i.organization.id === tenantA.id)!;
      expect(offer).toBeDefined();
      // Another person cannot answer it for them.
      await expectError(await platform.request(`/api/invitations/${offer.id}/accept`, { method: 'POST', headers: viewerA.headers }), 404);
      const accepted = await platform.request(`/api/invitations/${offer.id}/accept`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
      expect(accepted.status).toBe(200);
      const member = (await list(adminA.headers)).find((m) => m.userId === existing.id)!;
      expect(member).toMatchObject({ name: 'viewer', role: 'viewer' });
      expect((await login({ email: existing.email, password: 'original password', organization: tenantA.slug })).status).toBe(200);
    });

    it('refuses a second open invitation for the same email with 409, and withdraws one', async () => {
      const address = email();
      const first = await invite(adminA.headers, { email: address, name: 'x', role: 'viewer', password: 'long enough' });
      await expectError(await add(adminA.headers, { email: address.toUpperCase(), name: 'x', role: 'viewer', password: 'long enough' }), 409, 'conflict');
      expect((await platform.request(`/api/members/invitations/${first.id}`, { method: 'DELETE', headers: adminB.headers })).status).toBe(404);
      expect((await platform.request(`/api/members/invitations/${first.id}`, { method: 'DELETE', headers: adminA.headers })).status).toBe(204);
      expect((await login({ email: address, password: 'long enough', acceptInvitations: [first.id] })).status).toBe(404);
      await invite(adminA.headers, { email: address, name: 'x', role: 'viewer', password: 'long enough' });
    });

    it('refuses a second membership with 409', async () => {
      await expectError(await add(adminA.headers, { email: viewerA.email, name: 'x', role: 'viewer', password: 'whatever123' }), 409, 'conflict');
    });

    it('lets only an owner grant the owner role', async () => {
      const body = { email: email(), name: 'Co-owner', role: 'owner', password: 'a fine password' };
      const err = await expectError(await add(adminA.headers, body), 403);
      expect(err.message).toContain('owner');
      expect((await addOk(ownerA.headers, body)).role).toBe('owner');
    });

    it('rejects malformed bodies with 400', async () => {
      const good = { email: email(), name: 'x', role: 'viewer', password: 'long enough' };
      await expectError(await add(adminA.headers, { ...good, password: undefined }), 400, 'validation_failed');
      await expectError(await add(adminA.headers, { ...good, email: 'not-an-email' }), 400, 'validation_failed');
      await expectError(await add(adminA.headers, { ...good, role: 'emperor' }), 400, 'validation_failed');
      await expectError(await add(adminA.headers, { ...good, name: 42 }), 400, 'validation_failed');
      await expectError(await add(adminA.headers, { ...good, password: 'short' }), 400, 'validation_failed');
      await expectError(await add(adminA.headers, 'email=x'), 400, 'bad_request');
    });

    it('needs credentials, member.manage and the CSRF header', async () => {
      const body = { email: email(), name: 'x', role: 'viewer', password: 'long enough' };
      await expectError(await add({}, body), 401);
      await expectError(await add(viewerA.headers, body), 403);
      await expectError(await add({ cookie: adminA.cookie }, body), 403);
    });
  });

  describe('PATCH /api/members/{userId}', () => {
    it('changes a role and records from/to', async () => {
      const member = await addOk(adminA.headers, { email: email(), name: 'Promoted', role: 'viewer', password: 'long enough' });
      const res = await patch(adminA.headers, member.userId, { role: 'operator' });
      expect(res.status).toBe(200);
      expect(StrictMember.parse(await res.json())).toMatchObject({ userId: member.userId, role: 'operator' });
      expect((await list(adminA.headers)).find((m) => m.userId === member.userId)!.role).toBe('operator');
      const rows = await auditRows({ action: 'member.update_role', resourceId: member.userId });
      expect(rows[0]).toMatchObject({ details: { from: 'viewer', to: 'operator' } });
    });

    it('guards the owner role and the last owner', async () => {
      const tenant = await platform.createTenant();
      const owner = await platform.signIn({ tenantId: tenant.id, role: 'owner' });
      const admin = await platform.signIn({ tenantId: tenant.id, role: 'admin' });

      await expectError(await patch(admin.headers, owner.userId, { role: 'viewer' }), 403);
      await expectError(await patch(admin.headers, admin.userId, { role: 'owner' }), 403);
      const last = await expectError(await patch(owner.headers, owner.userId, { role: 'admin' }), 409, 'conflict');
      expect(last.message).toContain('last owner');

      expect((await patch(owner.headers, admin.userId, { role: 'owner' })).status).toBe(200);
      // Two owners now: one may step down.
      expect((await patch(owner.headers, owner.userId, { role: 'admin' })).status).toBe(200);
    });

    it('answers 400, 401, 403 and 404', async () => {
      await expectError(await patch(adminA.headers, viewerA.userId, { role: 'emperor' }), 400);
      await expectError(await patch(adminA.headers, viewerA.userId, {}), 400);
      await expectError(await patch(adminA.headers, viewerA.userId, '{'), 400);
      await expectError(await patch(adminA.headers, 'nope', { role: 'viewer' }), 400);
      await expectError(await patch({}, viewerA.userId, { role: 'viewer' }), 401);
      await expectError(await patch(viewerA.headers, viewerA.userId, { role: 'admin' }), 403);
      await expectError(await patch({ cookie: adminA.cookie }, viewerA.userId, { role: 'viewer' }), 403);
      await expectError(await patch(adminA.headers, '00000000-0000-4000-8000-000000000000', { role: 'viewer' }), 404, 'not_found');
    });
  });

  describe('DELETE /api/members/{userId}', () => {
    it('removes the member and ends their sessions in this organization only', async () => {
      const member = await platform.signIn({ tenantId: tenantA.id, role: 'operator' });
      // The same person also belongs to org B, with a session there.
      const invitation = await invite(adminB.headers, { email: member.email, name: 'x', role: 'viewer', password: 'irrelevant!' });
      const inB = await login({ email: member.email, password: 'correct horse battery', organization: tenantB.slug, acceptInvitations: [invitation.id] });
      expect(inB.status).toBe(200);
      const cookieB = inB.headers.get('set-cookie')!.split(';')[0]!;

      const res = await remove(adminA.headers, member.userId);
      expect(res.status).toBe(204);
      expect((await list(adminA.headers)).map((m) => m.userId)).not.toContain(member.userId);
      await expectError(await platform.request('/api/auth/me', { headers: member.headers }), 401);
      expect((await platform.request('/api/auth/me', { headers: { cookie: cookieB } })).status).toBe(200);

      const rows = await auditRows({ action: 'member.remove', resourceId: member.userId });
      expect(rows[0]).toMatchObject({ actorId: adminA.userId, details: { email: member.email, role: 'operator' } });
    });

    it('guards owners and the last owner', async () => {
      const tenant = await platform.createTenant();
      const owner = await platform.signIn({ tenantId: tenant.id, role: 'owner' });
      const admin = await platform.signIn({ tenantId: tenant.id, role: 'admin' });
      await expectError(await remove(admin.headers, owner.userId), 403);
      await expectError(await remove(owner.headers, owner.userId), 409, 'conflict');
      expect((await remove(owner.headers, admin.userId)).status).toBe(204);
    });

    it('answers 400, 401, 403 and 404', async () => {
      await expectError(await remove(adminA.headers, 'nope'), 400);
      await expectError(await remove({}, viewerA.userId), 401);
      await expectError(await remove(viewerA.headers, customerA.userId), 403);
      await expectError(await remove({ cookie: adminA.cookie }, customerA.userId), 403);
      await expectError(await remove(adminA.headers, '00000000-0000-4000-8000-000000000000'), 404);
    });
  });

  describe('tenant isolation', () => {
    it('org B can neither see nor change org A’s members', async () => {
      const bItems = await list(adminB.headers);
      for (const a of [ownerA, adminA, viewerA, customerA]) expect(bItems.map((m) => m.userId)).not.toContain(a.userId);
      await expectError(await patch(adminB.headers, viewerA.userId, { role: 'admin' }), 404);
      await expectError(await remove(adminB.headers, viewerA.userId), 404);
      expect((await list(adminA.headers)).find((m) => m.userId === viewerA.userId)!.role).toBe('viewer');
    });
  });
});
