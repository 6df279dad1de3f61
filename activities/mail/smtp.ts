import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Executor } from '@keelson/db';
import { smtpSettings, type SmtpSecurity } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';

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
export function smtpTransport(c: SmtpConnection, pool?: { maxConnections: number }) {
  return nodemailer.createTransport({
    ...(pool ? { pool: true, maxConnections: pool.maxConnections, maxMessages: 100 } : {}),
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

/** SMTP connections kept open per organization's settings while emails keep coming. */
export const SMTP_POOL = { maxConnections: 4, idleMs: 15_000 } as const;

const pools = new Map<string, { transport: Transporter; inFlight: number; idle?: NodeJS.Timeout }>();

/**
 * Sends one message over a pooled transport for these settings: a run of emails to one
 * organization's server reuses a few open SMTP connections instead of a connection, greeting and
 * login each. The pool is keyed by a hash of the settings (a changed password or host gets a new
 * one) and closed once no email has used it for `SMTP_POOL.idleMs`. A connection the server
 * dropped fails only the message on it, as a new connection would: the attempt is retried.
 */
export async function sendPooled(c: SmtpConnection, message: SendMailOptions): Promise<{ response: string }> {
  const key = createHash('sha256').update(JSON.stringify([c.host, c.port, c.security, c.username, c.password])).digest('hex');
  let entry = pools.get(key);
  if (!entry) pools.set(key, (entry = { transport: smtpTransport(c, SMTP_POOL), inFlight: 0 }));
  const pool = entry;
  clearTimeout(pool.idle);
  pool.inFlight++;
  try {
    return (await pool.transport.sendMail(message)) as { response: string };
  } finally {
    pool.inFlight--;
    if (pool.inFlight === 0) {
      pool.idle = setTimeout(() => {
        if (pool.inFlight > 0 || pools.get(key) !== pool) return;
        pools.delete(key);
        pool.transport.close();
      }, SMTP_POOL.idleMs);
      pool.idle.unref();
    }
  }
}

/** Closes every pooled SMTP connection (a worker shutting down). */
export function closeSmtpPools(): void {
  for (const [key, pool] of pools) {
    clearTimeout(pool.idle);
    pools.delete(key);
    pool.transport.close();
  }
}
