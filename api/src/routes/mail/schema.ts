import { z } from '@hono/zod-openapi';
import { OUTBOUND_EMAIL_STATUSES, SMTP_SECURITY } from '@keelson/db/schema';
import { StartedRunSchema } from '../../schemas';

/** A host name or an IP address, as the SMTP server is reached. */
const Host = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9a-fA-F:.]+$/, 'a host name like smtp.example.com or an IP address');
const Email = z.email({ error: 'an email address like billing@example.com' }).max(320);

export const SmtpSettingsBody = z
  .object({
    host: Host,
    port: z.number().int().min(1).max(65535).openapi({ description: '25, 465 (tls), 587 (starttls), 1025 (Mailpit)…' }),
    security: z.enum(SMTP_SECURITY).openapi({ description: '`tls` from the first byte, `starttls` required, or `none`' }),
    username: z.string().min(1).max(320).nullable().optional(),
    password: z
      .string()
      .min(1)
      .max(1024)
      .nullable()
      .optional()
      .openapi({ description: 'Write-only, stored encrypted. Left out keeps the stored password; null removes it.' }),
    fromAddress: Email.openapi({ description: 'Every email of the organization is sent from this address' }),
    fromName: z.string().trim().min(1).max(200).nullable().optional(),
    replyTo: Email.nullable().optional(),
  })
  .refine((b) => !(b.password && !b.username), { message: 'a password needs a username', path: ['username'] })
  .openapi('SmtpSettingsInput');

export const SmtpSettingsSchema = z
  .object({
    host: z.string(),
    port: z.number(),
    security: z.enum(SMTP_SECURITY),
    username: z.string().nullable(),
    passwordSet: z.boolean().openapi({ description: 'Whether a password is stored; it is never returned' }),
    fromAddress: z.string(),
    fromName: z.string().nullable(),
    replyTo: z.string().nullable(),
    updatedAt: z.string(),
  })
  .openapi('SmtpSettings');

export const SmtpSettingsStateSchema = z.object({ settings: SmtpSettingsSchema.nullable() }).openapi('SmtpSettingsState');

export const SmtpTestBody = z.object({ to: Email }).openapi('SmtpTestRequest');

export const SmtpTestResultSchema = z
  .object({
    run: StartedRunSchema,
    status: z.enum(['sent', 'failed', 'pending']).openapi({ description: '`pending` when the run had not finished within 30 s; follow the run' }),
    messageId: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi('SmtpTestResult');

export const EmailSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    key: z.string(),
    messageId: z.string(),
    to: z.array(z.string()),
    cc: z.array(z.string()),
    subject: z.string(),
    resource: z.string().nullable(),
    status: z.enum(OUTBOUND_EMAIL_STATUSES),
    attempts: z.number(),
    lastError: z.string().nullable(),
    attachments: z.array(z.string()),
    createdAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi('OutboundEmail');

export const EmailListSchema = z.object({ items: z.array(EmailSchema) }).openapi('OutboundEmailList');

export const EmailListQuery = z.object({
  resource: z
    .string()
    .regex(/^[a-z_]+:[A-Za-z0-9._/-]+$/, 'a resource reference like invoice:<id>')
    .optional(),
  kind: z
    .string()
    .regex(/^[a-z_.]+$/, 'an email kind like invoice')
    .optional(),
  before: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
