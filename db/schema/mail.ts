import { sql } from 'drizzle-orm';
import { index, integer, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { files } from './files';
import { tenants } from './tenancy';

/** How the connection to the SMTP server is protected. */
export const SMTP_SECURITY = [
  /** Plain SMTP (a local relay or a test catcher such as Mailpit). */
  'none',
  /** Plain connect, then STARTTLS, which must succeed (port 587). */
  'starttls',
  /** TLS from the first byte (port 465). */
  'tls',
] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];
export const smtpSecurityEnum = pgEnum('smtp_security', SMTP_SECURITY);

/** An organization's outgoing mail server. The password is stored encrypted and never returned. */
export const smtpSettings = pgTable('smtp_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  host: text('host').notNull(),
  port: integer('port').notNull(),
  security: smtpSecurityEnum('security').notNull(),
  username: text('username'),
  /** Encrypted at rest (common/src/codec.ts); null when the server takes no login. */
  passwordSealed: text('password_sealed'),
  /** The address every email of the organization is sent from. */
  fromAddress: text('from_address').notNull(),
  fromName: text('from_name'),
  replyTo: text('reply_to'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const OUTBOUND_EMAIL_STATUSES = [
  /** Recorded; not tried yet. */
  'queued',
  /** An attempt holds it until `claimedUntil`; a crashed attempt's claim runs out and the next one sends. */
  'sending',
  /** The SMTP server accepted it. Never sent again. */
  'sent',
  /** The server refused it for good (bad address, no SMTP settings); a resend is a new email. */
  'failed',
] as const;
export type OutboundEmailStatus = (typeof OUTBOUND_EMAIL_STATUSES)[number];
export const outboundEmailStatusEnum = pgEnum('outbound_email_status', OUTBOUND_EMAIL_STATUSES);

/**
 * Every email Keelson sends, one row per business key: (organization, kind, key) is unique, so
 * asking twice for the same email (a retried activity, a re-run workflow) finds the first one.
 * Its content and Message-ID are fixed when it is first recorded.
 */
export const outboundEmails = pgTable(
  'outbound_emails',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    /** What the email is about, by domain: `invoice`, `credit_note`, `smtp.test`, `dunning.reminder`… */
    kind: text('kind').notNull(),
    /** The business key within the kind: an invoice id, `<invoice>/reminder-1`… */
    key: text('key').notNull(),
    /** `<…@…>`, derived from (organization, kind, key): a resent copy carries the same one. */
    messageId: text('message_id').notNull(),
    to: text('to').array().notNull(),
    cc: text('cc').array().notNull().default(sql`'{}'::text[]`),
    bcc: text('bcc').array().notNull().default(sql`'{}'::text[]`),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html'),
    /** The resource the email is about, for lists (`invoice:<id>`). */
    resource: text('resource'),
    status: outboundEmailStatusEnum('status').notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
    lastError: text('last_error'),
    /** The server's answer to the message (`250 OK: queued as …`). */
    smtpResponse: text('smtp_response'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('outbound_emails_tenant_id_kind_key_idx').on(t.tenantId, t.kind, t.key),
    uniqueIndex('outbound_emails_message_id_idx').on(t.messageId),
    index('outbound_emails_tenant_id_created_at_idx').on(t.tenantId, t.createdAt),
    index('outbound_emails_tenant_id_resource_idx').on(t.tenantId, t.resource),
  ],
);

/** An email's attachments, in order; the content is a stored file. */
export const outboundEmailAttachments = pgTable(
  'outbound_email_attachments',
  {
    emailId: uuid('email_id')
      .notNull()
      .references(() => outboundEmails.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    fileId: uuid('file_id')
      .notNull()
      .references(() => files.id, { onDelete: 'restrict' }),
    /** The name the recipient sees (the file's own name unless given). */
    filename: text('filename').notNull(),
  },
  (t) => [primaryKey({ columns: [t.emailId, t.position] }), index('outbound_email_attachments_file_id_idx').on(t.fileId)],
);
