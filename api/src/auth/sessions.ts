import type { Role } from '@keelson/common/permissions';
import type { Executor } from '@keelson/db';
import { customerUsers, memberships, sessions, users } from '@keelson/db/schema';
import { and, eq, lt } from 'drizzle-orm';
import { generateToken, hashToken } from './tokens';

/**
 * Sessions in lucia's style: the cookie holds a random token, the database its SHA-256, expiry
 * slides forward on use. This module is the only place that knows how sessions are stored.
 */
export const SESSION_COOKIE = 'keelson_session';
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
const RENEW_WHEN_LEFT_MS = 15 * 24 * 3600 * 1000;

export interface SessionContext {
  sessionId: string;
  csrfToken: string;
  userId: string;
  tenantId: string;
  role: Role;
  /** The customer a `customer`-role member acts for; null when not linked (they then see no customer data). */
  customerId: string | null;
  email: string;
  name: string;
  expiresAt: Date;
  /** False while a user with TOTP on has not passed the second step. */
  twoFactorVerified: boolean;
}

export async function createSession(
  db: Executor,
  input: { userId: string; tenantId: string; twoFactorVerified: boolean; ip: string | null; userAgent: string | null },
): Promise<{ token: string; sessionId: string; csrfToken: string; expiresAt: Date }> {
  const token = generateToken();
  const sessionId = hashToken(token);
  const csrfToken = generateToken();
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await db.insert(sessions).values({
    id: sessionId,
    userId: input.userId,
    tenantId: input.tenantId,
    csrfToken,
    twoFactorVerified: input.twoFactorVerified ? new Date() : null,
    expiresAt,
    ip: input.ip,
    userAgent: input.userAgent,
  });
  return { token, sessionId, csrfToken, expiresAt };
}

/** Resolves a cookie token to its session, user and membership; null if unknown or expired. */
export async function validateSessionToken(db: Executor, token: string): Promise<SessionContext | null> {
  const sessionId = hashToken(token);
  const [row] = await db
    .select({
      session: sessions,
      email: users.email,
      name: users.name,
      role: memberships.role,
      customerId: customerUsers.customerId,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(memberships, and(eq(memberships.userId, sessions.userId), eq(memberships.tenantId, sessions.tenantId)))
    .leftJoin(customerUsers, and(eq(customerUsers.userId, sessions.userId), eq(customerUsers.tenantId, sessions.tenantId)))
    .where(eq(sessions.id, sessionId));
  if (!row) return null;
  const { session } = row;
  if (session.expiresAt.getTime() <= Date.now()) {
    await db.delete(sessions).where(eq(sessions.id, sessionId));
    return null;
  }
  let expiresAt = session.expiresAt;
  if (expiresAt.getTime() - Date.now() < RENEW_WHEN_LEFT_MS) {
    expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    await db.update(sessions).set({ expiresAt }).where(eq(sessions.id, sessionId));
  }
  return {
    sessionId,
    csrfToken: session.csrfToken,
    userId: session.userId,
    tenantId: session.tenantId,
    role: row.role,
    customerId: row.customerId,
    email: row.email,
    name: row.name,
    expiresAt,
    twoFactorVerified: session.twoFactorVerified !== null,
  };
}

export async function markTwoFactorVerified(db: Executor, sessionId: string): Promise<void> {
  await db.update(sessions).set({ twoFactorVerified: new Date() }).where(eq(sessions.id, sessionId));
}

export async function invalidateSession(db: Executor, sessionId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}

export async function invalidateUserSessions(db: Executor, userId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.userId, userId));
}

export async function deleteExpiredSessions(db: Executor): Promise<void> {
  await db.delete(sessions).where(lt(sessions.expiresAt, new Date()));
}
