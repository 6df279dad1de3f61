import { decryptSecret, encryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Role } from '@keelson/common/permissions';
import { hashPassword, verifyPassword, writeAudit, type Database, type Executor } from '@keelson/db';
import { apiKeys, memberships, sessions, tenants, users } from '@keelson/db/schema';
import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { createSession, invalidateSession, markTwoFactorVerified, type SessionContext } from '../auth/sessions';
import { generateTotpSecret, totpStep, totpUrl } from '../auth/totp';
import { NO_CUSTOMER, type Principal, type RequestMeta } from '../context';
import { AppError, ConflictError, ForbiddenError, UnauthorizedError, ValidationError } from '../errors';
import { acceptInvitations, invitationsFor } from './invitations-service';
import { auditActor } from './audit-service';

/** Wrong email or password; the message never says which. Counted by the login rate limit. */
export class InvalidCredentialsError extends UnauthorizedError {
  constructor() {
    super('invalid email or password');
  }
}

/** A wrong code at the second step of sign-in. Counted by the second-factor rate limit. */
export class InvalidTotpCodeError extends UnauthorizedError {
  constructor() {
    super('invalid or expired two-factor code');
  }
}

/**
 * A wrong code when confirming a change (turning two-factor off). 403, not 401: the caller is
 * signed in, and clients treat 401 as "signed out". Counted by the second-factor rate limit.
 */
export class TotpConfirmationError extends ForbiddenError {
  constructor() {
    super('invalid or expired two-factor code');
  }
}

export interface SignedInUser {
  user: { id: string; email: string; name: string };
  organization: { id: string; slug: string; name: string };
  role: Role;
  csrfToken: string;
  twoFactorRequired: boolean;
}

// Unknown emails still pay for one scrypt verification, so response time does not reveal which
// emails exist. Hashed once at startup, so not even the first unknown email is slower.
const equalizerHash = hashPassword(randomBytes(24).toString('base64'));

/**
 * Checks the password and opens a session in the chosen organization (by slug), or the user's
 * first one. With TOTP on, the session stays unverified until `completeSecondFactor`.
 */
export async function signIn(
  db: Database,
  input: { email: string; password: string; organization?: string; acceptInvitations?: string[] },
  meta: RequestMeta,
): Promise<SignedInUser & { token: string; expiresAt: Date }> {
  const [user] = await db
    .select({ id: users.id, email: users.email, name: users.name, passwordHash: users.passwordHash, totpSecret: users.totpSecret })
    .from(users)
    .where(eq(sql`lower(${users.email})`, input.email.toLowerCase()));
  const passwordOk = await verifyPassword(user?.passwordHash ?? (await equalizerHash), input.password);
  if (!user || !passwordOk) throw new InvalidCredentialsError();

  // Invitations the person accepts while proving who they are: a new account's first way in.
  if (input.acceptInvitations?.length) {
    await db.transaction((tx) => acceptInvitations(tx, user, input.acceptInvitations!, meta));
  }
  const membership = await findMembership(db, user.id, input.organization).catch(async (err) => {
    // Only reachable with the right password: telling the person who invites them reveals nothing.
    const pending = await invitationsFor(db, user.id);
    if (pending.length) {
      throw new AppError(403, 'invitation_pending', 'accept an invitation to sign in: send its id in acceptInvitations', {
        invitations: pending.map((i) => ({ id: i.id, role: i.role, organization: i.organization, expiresAt: i.expiresAt.toISOString() })),
      });
    }
    throw err;
  });
  const twoFactorRequired = user.totpSecret !== null;
  const session = await db.transaction(async (tx) => {
    const created = await createSession(tx, {
      userId: user.id,
      tenantId: membership.organization.id,
      twoFactorVerified: !twoFactorRequired,
      ip: meta.ip,
      userAgent: meta.userAgent,
    });
    await writeAudit(tx, {
      tenantId: membership.organization.id,
      actorType: 'user',
      actorId: user.id,
      action: 'auth.login',
      resourceType: 'user',
      resourceId: user.id,
      ip: meta.ip,
      userAgent: meta.userAgent,
      details: { twoFactorRequired },
    });
    return created;
  });
  return {
    user: { id: user.id, email: user.email, name: user.name },
    organization: membership.organization,
    role: membership.role,
    csrfToken: session.csrfToken,
    twoFactorRequired,
    token: session.token,
    expiresAt: session.expiresAt,
  };
}

async function findMembership(db: Executor, userId: string, slug: string | undefined) {
  const rows = await db
    .select({ organization: { id: tenants.id, slug: tenants.slug, name: tenants.name }, role: memberships.role })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(and(eq(memberships.userId, userId), slug === undefined ? undefined : eq(tenants.slug, slug)))
    .orderBy(asc(memberships.createdAt), asc(tenants.slug))
    .limit(1);
  const membership = rows[0];
  // Only reachable with the right password, so naming the problem reveals nothing to a guesser.
  if (!membership) throw new ForbiddenError(slug === undefined ? 'you are not a member of any organization' : `you are not a member of organization "${slug}"`);
  return membership;
}

/** The second step of a TOTP sign-in: verifies the code and marks the session verified. */
export async function completeSecondFactor(
  db: Database,
  keys: KeyRing,
  session: SessionContext,
  code: string,
  meta: RequestMeta,
): Promise<SignedInUser> {
  if (session.twoFactorVerified) throw new ConflictError('this session has already passed two-factor verification');
  const [row] = await db
    .select({ totpSecret: users.totpSecret, organization: { id: tenants.id, slug: tenants.slug, name: tenants.name } })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, session.tenantId))
    .where(eq(users.id, session.userId));
  // Two-factor was turned off from another session meanwhile: this half-open session is stale.
  if (!row?.totpSecret) throw new UnauthorizedError('two-factor is not enabled for this account; sign in again');
  const step = totpStep(decryptSecret(keys, row.totpSecret), code);
  if (step === null) throw new InvalidTotpCodeError();

  await db.transaction(async (tx) => {
    if (!(await consumeTotpStep(tx, session.userId, step))) throw new InvalidTotpCodeError();
    await markTwoFactorVerified(tx, session.sessionId);
    await writeAudit(tx, {
      tenantId: session.tenantId,
      actorType: 'user',
      actorId: session.userId,
      action: 'auth.totp.verify',
      resourceType: 'user',
      resourceId: session.userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
    });
  });
  return {
    user: { id: session.userId, email: session.email, name: session.name },
    organization: row.organization,
    role: session.role,
    csrfToken: session.csrfToken,
    twoFactorRequired: false,
  };
}

/**
 * Records that the code of `step` was used, if it is newer than the last code accepted: a code is
 * accepted once (RFC 6238 §5.2), whichever session or API process sees it first, and an older
 * code of the drift window cannot be used after a newer one. False for a replay.
 */
async function consumeTotpStep(tx: Executor, userId: string, step: number): Promise<boolean> {
  const [updated] = await tx
    .update(users)
    .set({ totpLastStep: step })
    .where(and(eq(users.id, userId), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
    .returning({ id: users.id });
  return updated !== undefined;
}

/** Ends the caller's cookie session. */
export async function signOut(db: Database, principal: Principal, meta: RequestMeta): Promise<void> {
  const { sessionId } = principal;
  if (!sessionId) throw new ValidationError('sign-out ends a cookie session; API keys are revoked with DELETE /api/api-keys/{id}');
  await db.transaction(async (tx) => {
    await invalidateSession(tx, sessionId);
    await writeAudit(tx, { ...auditActor(principal, meta), action: 'auth.logout', resourceType: 'user', resourceId: principal.userId });
  });
}

/** Who the caller is: a signed-in user, or an API key acting for the organization. */
export async function describeCaller(db: Executor, principal: Principal) {
  const [organization] = await db
    .select({ id: tenants.id, slug: tenants.slug, name: tenants.name })
    .from(tenants)
    .where(eq(tenants.id, principal.tenantId));
  if (!organization) throw new UnauthorizedError('organization no longer exists');

  let user: { id: string; email: string; name: string } | null = null;
  let twoFactorEnabled = false;
  let csrfToken: string | null = null;
  let apiKey: { id: string; name: string } | null = null;
  if (principal.userId) {
    const [row] = await db
      .select({ id: users.id, email: users.email, name: users.name, totpSecret: users.totpSecret })
      .from(users)
      .where(eq(users.id, principal.userId));
    if (!row) throw new UnauthorizedError('user no longer exists');
    user = { id: row.id, email: row.email, name: row.name };
    twoFactorEnabled = row.totpSecret !== null;
  }
  if (principal.sessionId) {
    const [row] = await db
      .select({ csrfToken: sessions.csrfToken })
      .from(sessions)
      .where(and(eq(sessions.id, principal.sessionId), eq(sessions.tenantId, principal.tenantId)));
    csrfToken = row?.csrfToken ?? null;
  }
  if (principal.actorType === 'api_key') {
    const [row] = await db
      .select({ id: apiKeys.id, name: apiKeys.name })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, principal.actorId), eq(apiKeys.tenantId, principal.tenantId)));
    apiKey = row ?? null;
  }
  return {
    user,
    apiKey,
    organization,
    role: principal.role,
    // The customer a customer user acts for (null for staff, and for a customer user not linked yet).
    customerId: principal.customerId && principal.customerId !== NO_CUSTOMER ? principal.customerId : null,
    permissions: [...principal.permissions].sort(),
    csrfToken,
    twoFactorEnabled,
  };
}

function requireUser(principal: Principal): string {
  if (!principal.userId) throw new ForbiddenError('two-factor settings belong to users; sign in with a session');
  return principal.userId;
}

/**
 * A fresh secret and its otpauth URL. Nothing is stored: `enableTotp` receives the secret back
 * with a code that proves the authenticator holds it, so an abandoned setup leaves no state.
 */
export async function startTotpSetup(db: Database, principal: Principal, meta: RequestMeta) {
  const userId = requireUser(principal);
  return db.transaction(async (tx) => {
    const [user] = await tx.select({ email: users.email, totpSecret: users.totpSecret }).from(users).where(eq(users.id, userId));
    if (!user) throw new UnauthorizedError('user no longer exists');
    if (user.totpSecret) throw new ConflictError('two-factor is already enabled; disable it first');
    const secret = generateTotpSecret();
    await writeAudit(tx, { ...auditActor(principal, meta), action: 'auth.totp.setup', resourceType: 'user', resourceId: userId });
    return { secret, otpauthUrl: totpUrl(secret, user.email) };
  });
}

export async function enableTotp(db: Database, keys: KeyRing, principal: Principal, meta: RequestMeta, input: { secret: string; code: string }) {
  const userId = requireUser(principal);
  await db.transaction(async (tx) => {
    const [user] = await tx.select({ totpSecret: users.totpSecret }).from(users).where(eq(users.id, userId)).for('update');
    if (!user) throw new UnauthorizedError('user no longer exists');
    if (user.totpSecret) throw new ConflictError('two-factor is already enabled; disable it first');
    const step = totpStep(input.secret, input.code);
    if (step === null) {
      throw new ValidationError('code: does not match the secret; check the authenticator app and the device clock');
    }
    // The code that turned it on is used up too: it cannot sign anyone in afterwards.
    await tx.update(users).set({ totpSecret: encryptSecret(keys, input.secret), totpLastStep: step }).where(eq(users.id, userId));
    await writeAudit(tx, { ...auditActor(principal, meta), action: 'auth.totp.enable', resourceType: 'user', resourceId: userId });
  });
}

/** Turning two-factor off needs a current code, so a stolen session alone cannot do it. */
export async function disableTotp(db: Database, keys: KeyRing, principal: Principal, meta: RequestMeta, input: { code: string }) {
  const userId = requireUser(principal);
  await db.transaction(async (tx) => {
    const [user] = await tx.select({ totpSecret: users.totpSecret }).from(users).where(eq(users.id, userId)).for('update');
    if (!user) throw new UnauthorizedError('user no longer exists');
    if (!user.totpSecret) throw new ConflictError('two-factor is not enabled');
    const step = totpStep(decryptSecret(keys, user.totpSecret), input.code);
    if (step === null || !(await consumeTotpStep(tx, userId, step))) throw new TotpConfirmationError();
    await tx.update(users).set({ totpSecret: null, totpLastStep: null }).where(eq(users.id, userId));
    await writeAudit(tx, { ...auditActor(principal, meta), action: 'auth.totp.disable', resourceType: 'user', resourceId: userId });
  });
}
