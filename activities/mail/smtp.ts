import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Executor } from '@keelson/db';
import { smtpSettings, type SmtpSecurity } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';

/** An organization's SMTP settings with the password opened, for one delivery. Never logged. */
export interface SmtpConnection {
  host: string;
  port: number;
  security: SmtpSecurity;
  username: string | null;
  password: string | null;
  fromAddress: string;
  fromName: string | null;
  replyTo: string | null;
}

export async function loadSmtpConnection(db: Executor, keys: KeyRing, tenantId: string): Promise<SmtpConnection | null> {
  const [row] = await db.select().from(smtpSettings).where(eq(smtpSettings.tenantId, tenantId));
  if (!row) return null;
  return {
    host: row.host,
    port: row.port,
    security: row.security,
    username: row.username,
    password: row.passwordSealed ? decryptSecret(keys, row.passwordSealed) : null,
    fromAddress: row.fromAddress,
    fromName: row.fromName,
    replyTo: row.replyTo,
  };
}

/** How long one SMTP conversation may take, each phase; a hung server fails the attempt, which is retried. */
export const SMTP_TIMEOUTS_MS = { connection: 10_000, greeting: 10_000, socket: 20_000 } as const;

/**
 * A nodemailer SMTP transport for these settings. TLS is verified against the system's CAs
 * (never turned off); `starttls` refuses to go on in clear when the server does not offer it.
 */
export function smtpTransport(c: SmtpConnection) {
  return nodemailer.createTransport({
    host: c.host,
    port: c.port,
    secure: c.security === 'tls',
    requireTLS: c.security === 'starttls',
    ignoreTLS: c.security === 'none',
    auth: c.username ? { user: c.username, pass: c.password ?? '' } : undefined,
    connectionTimeout: SMTP_TIMEOUTS_MS.connection,
    greetingTimeout: SMTP_TIMEOUTS_MS.greeting,
    socketTimeout: SMTP_TIMEOUTS_MS.socket,
    // Keelson's logs must never carry message bodies or credentials.
    logger: false,
    debug: false,
  });
}

/** Whether a nodemailer error means the server refused for good (5xx), so a retry cannot help. */
export function isPermanentSmtpError(err: unknown): boolean {
  const e = err as { responseCode?: number; code?: string };
  // A refused login is fixable by an admin, so it is retried; a refused message or recipient is not.
  if (e.code === 'EAUTH') return false;
  return typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
}

/** The error as an operator may read it: nodemailer's message, without the credentials it never contains. */
export function smtpErrorMessage(err: unknown): string {
  const e = err as { message?: string; response?: string; code?: string };
  return (e.response ?? e.message ?? String(err)).slice(0, 1000);
}
