import type { Role } from '@keelson/common/permissions';
import { writeAudit, type Executor } from '@keelson/db';
import { invitations, memberships, tenants, users } from '@keelson/db/schema';
import { and, asc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import type { Principal, RequestMeta } from '../context';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { auditActor } from './audit-service';

/** How long an invitation can be accepted. */
export const INVITATION_TTL_MS = 14 * 24 * 3600 * 1000;

const open = and(isNull(invitations.acceptedAt), isNull(invitations.declinedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, sql`now()`));

/** What the inviting organization sees of an invitation: what it typed, never the account. */
export const invitationColumns = {
  id: invitations.id,
  email: invitations.email,
  role: invitations.role,
  createdAt: invitations.createdAt,
  expiresAt: invitations.expiresAt,
};

/** Open invitations of the organization. */
export async function listInvitations(db: Executor, tenantId: string) {
  return db.select(invitationColumns).from(invitations).where(and(eq(invitations.tenantId, tenantId), open)).orderBy(asc(invitations.createdAt));
}

/** Withdraws an open invitation of the caller's organization. */
export async function revokeInvitation(db: Executor, principal: Principal, meta: RequestMeta, id: string): Promise<void> {
  const [revoked] = await db
    .update(invitations)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(invitations.id, id), eq(invitations.tenantId, principal.tenantId), open))
    .returning({ email: invitations.email });
  if (!revoked) throw new NotFoundError('invitation');
  await writeAudit(db, { ...auditActor(principal, meta), action: 'member.invite.revoke', resourceType: 'invitation', resourceId: id, details: { email: revoked.email } });
}

/** Open invitations addressed to a person (by their account's email), with who invites them. */
export async function invitationsFor(db: Executor, userId: string) {
  return db
    .select({
      id: invitations.id,
      role: invitations.role,
      organization: { id: tenants.id, slug: tenants.slug, name: tenants.name },
      createdAt: invitations.createdAt,
      expiresAt: invitations.expiresAt,
    })
    .from(invitations)
    .innerJoin(users, eq(sql`lower(${users.email})`, sql`lower(${invitations.email})`))
    .innerJoin(tenants, eq(tenants.id, invitations.tenantId))
    .where(and(eq(users.id, userId), open))
    .orderBy(asc(invitations.createdAt));
}

/**
 * The person answers: accepting makes them a member with the invited role (in the inviting
 * organization's audit log as `member.join`); declining closes it. Only invitations addressed to
 * the caller's own account can be answered: any other id is a 404, whoever it belongs to.
 */
export async function answerInvitation(
  tx: Executor,
  user: { id: string; email: string },
  id: string,
  answer: 'accept' | 'decline',
  meta: RequestMeta,
): Promise<{ organization: { id: string; slug: string; name: string }; role: Role }> {
  const [invitation] = await tx
    .update(invitations)
    .set(answer === 'accept' ? { acceptedAt: sql`now()` } : { declinedAt: sql`now()` })
    .where(and(eq(invitations.id, id), eq(sql`lower(${invitations.email})`, user.email.toLowerCase()), open))
    .returning({ tenantId: invitations.tenantId, role: invitations.role });
  if (!invitation) throw new NotFoundError('invitation');
  if (answer === 'accept') {
    await tx.insert(memberships).values({ tenantId: invitation.tenantId, userId: user.id, role: invitation.role }).onConflictDoNothing();
  }
  await writeAudit(tx, {
    tenantId: invitation.tenantId,
    actorType: 'user',
    actorId: user.id,
    action: answer === 'accept' ? 'member.join' : 'member.invite.decline',
    resourceType: 'member',
    resourceId: user.id,
    ip: meta.ip,
    userAgent: meta.userAgent,
    details: { invitationId: id, role: invitation.role },
  });
  const [organization] = await tx.select({ id: tenants.id, slug: tenants.slug, name: tenants.name }).from(tenants).where(eq(tenants.id, invitation.tenantId));
  return { organization: organization!, role: invitation.role };
}

/** Accepts several invitations for a person who just proved who they are (sign-in). */
export async function acceptInvitations(tx: Executor, user: { id: string; email: string }, ids: string[], meta: RequestMeta) {
  for (const id of ids) await answerInvitation(tx, user, id, 'accept', meta);
}

/** The caller as a person (sessions only: an API key cannot join organizations). */
export async function invitee(db: Executor, principal: Principal): Promise<{ id: string; email: string }> {
  if (!principal.userId) throw new ForbiddenError('invitations are answered by the person invited, signed in');
  const [user] = await db.select({ id: users.id, email: users.email }).from(users).where(eq(users.id, principal.userId));
  if (!user) throw new NotFoundError('user');
  return user;
}

/** Ids that are open invitations for a person; used to check a sign-in's `acceptInvitations`. */
export async function openInvitationIds(db: Executor, email: string, ids: string[]): Promise<string[]> {
  if (!ids.length) return [];
  const rows = await db
    .select({ id: invitations.id })
    .from(invitations)
    .where(and(inArray(invitations.id, ids), eq(sql`lower(${invitations.email})`, email.toLowerCase()), open));
  return rows.map((r) => r.id);
}

export class AlreadyInvitedError extends ConflictError {
  constructor(email: string) {
    super(`${email} already has an open invitation`);
  }
}
