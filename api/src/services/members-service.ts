import type { Role } from '@keelson/common/permissions';
import { hashPassword, writeAudit, type Database, type Executor, type Transaction } from '@keelson/db';
import { invitations, memberships, sessions, tenants, users } from '@keelson/db/schema';
import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Principal, RequestMeta } from '../context';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { forgetApiKeys } from '../auth/api-key-cache';
import { revokeKeysOf } from './api-keys-service';
import { auditActor } from './audit-service';
import { AlreadyInvitedError, INVITATION_TTL_MS, invitationColumns } from './invitations-service';

const memberColumns = {
  userId: users.id,
  email: users.email,
  name: users.name,
  role: memberships.role,
  joinedAt: memberships.createdAt,
};

export async function listMembers(db: Executor, tenantId: string) {
  return db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.tenantId, tenantId))
    .orderBy(asc(memberships.createdAt), asc(users.email));
}

/**
 * Invites a person to the caller's organization; they become a member when they accept (on
 * sign-in, or from their account). An email without an account gets one now, with the password
 * given here, and the same invitation: nobody joins without consent, and the answer — an
 * invitation, never the account's name or id — is the same whether the account existed or not.
 * The password is hashed in every case, so the time taken does not tell either.
 */
export async function inviteMember(
  db: Database,
  principal: Principal,
  meta: RequestMeta,
  input: { email: string; name: string; role: Role; password: string },
) {
  if (input.role === 'owner') requireOwner(principal, 'grant the owner role');
  // Hash outside the transaction (scrypt is slow and must not hold locks), and always.
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    await lockTenant(tx, principal.tenantId);
    await tx.insert(users).values({ email: input.email, name: input.name, passwordHash }).onConflictDoNothing();
    const [user] = await tx.select({ id: users.id }).from(users).where(eq(sql`lower(${users.email})`, input.email.toLowerCase()));
    if (!user) throw new Error(`user ${input.email} neither inserted nor found`);
    // Whether someone is a member of *this* organization is the caller's business.
    if (await findMember(tx, principal.tenantId, user.id)) throw new ConflictError(`${input.email} is already a member`);

    const [invitation] = await tx
      .insert(invitations)
      .values({
        tenantId: principal.tenantId,
        email: input.email,
        role: input.role,
        invitedBy: principal.onBehalfOf ?? principal.userId,
        expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
      })
      .onConflictDoNothing()
      .returning(invitationColumns);
    if (!invitation) throw new AlreadyInvitedError(input.email);
    await writeAudit(tx, {
      ...auditActor(principal, meta),
      action: 'member.invite',
      resourceType: 'invitation',
      resourceId: invitation.id,
      details: { email: input.email, role: input.role },
    });
    return invitation;
  });
}

export async function changeMemberRole(db: Database, principal: Principal, meta: RequestMeta, userId: string, role: Role) {
  const changed = await db.transaction(async (tx) => {
    await lockTenant(tx, principal.tenantId);
    const member = await findMember(tx, principal.tenantId, userId);
    if (!member) throw new NotFoundError('member');
    if (member.role === role) return member;
    if (member.role === 'owner' || role === 'owner') requireOwner(principal, role === 'owner' ? 'grant the owner role' : 'change an owner’s role');
    if (member.role === 'owner') await requireAnotherOwner(tx, principal.tenantId, 'demote');

    await tx
      .update(memberships)
      .set({ role })
      .where(and(eq(memberships.tenantId, principal.tenantId), eq(memberships.userId, userId)));
    await writeAudit(tx, {
      ...auditActor(principal, meta),
      action: 'member.update_role',
      resourceType: 'member',
      resourceId: userId,
      details: { email: member.email, from: member.role, to: role },
    });
    return { ...member, role };
  });
  // This process's cached keys may carry the old role (other processes hear the trigger's notice).
  forgetApiKeys(db);
  return changed;
}

/** Removes the membership, signs the person out of this organization and revokes their keys there. */
export async function removeMember(db: Database, principal: Principal, meta: RequestMeta, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await lockTenant(tx, principal.tenantId);
    const member = await findMember(tx, principal.tenantId, userId);
    if (!member) throw new NotFoundError('member');
    if (member.role === 'owner') {
      requireOwner(principal, 'remove an owner');
      await requireAnotherOwner(tx, principal.tenantId, 'remove');
    }

    await tx.delete(memberships).where(and(eq(memberships.tenantId, principal.tenantId), eq(memberships.userId, userId)));
    await tx.delete(sessions).where(and(eq(sessions.tenantId, principal.tenantId), eq(sessions.userId, userId)));
    // Their keys die with their membership (and stay dead if they are ever added back).
    const revokedKeys = await revokeKeysOf(tx, principal.tenantId, userId);
    await writeAudit(tx, {
      ...auditActor(principal, meta),
      action: 'member.remove',
      resourceType: 'member',
      resourceId: userId,
      details: { email: member.email, role: member.role, revokedKeys },
    });
  });
  forgetApiKeys(db);
}

async function findMember(tx: Executor, tenantId: string, userId: string) {
  const [member] = await tx
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
  return member;
}

/**
 * Serializes membership changes within one organization, so two concurrent demotions cannot
 * both see "another owner remains" and leave none.
 */
async function lockTenant(tx: Transaction, tenantId: string): Promise<void> {
  await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).for('update');
}

function requireOwner(principal: Principal, what: string): void {
  if (principal.role !== 'owner') throw new ForbiddenError(`only an owner may ${what}`);
}

async function requireAnotherOwner(tx: Executor, tenantId: string, verb: string): Promise<void> {
  const [row] = await tx
    .select({ owners: count() })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.role, 'owner')));
  if ((row?.owners ?? 0) <= 1) throw new ConflictError(`cannot ${verb} the last owner; make someone else an owner first`);
}
