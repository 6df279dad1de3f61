import { sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { roleEnum, tenants, users } from './tenancy';

/**
 * Fixed-window failure counters shared by every API process (login, second factor). The key is a
 * SHA-256 of what is limited (`login|<ip>|<email>`), so the table holds no addresses or emails.
 */
export const rateLimits = pgTable(
  'rate_limits',
  {
    key: text('key').primaryKey(),
    count: integer('count').notNull(),
    resetAt: timestamp('reset_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('rate_limits_reset_at_idx').on(t.resetAt)],
);

/**
 * Adding a person to an organization is an invitation they accept (on sign-in, or from their
 * account), whether or not they already have an account: nobody joins an organization without
 * consent, and the answer to whoever invites is the same either way. One open invitation per
 * organization and email.
 */
export const invitations = pgTable(
  'invitations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    /** As the inviter typed it; matched case-insensitively against the account's email. */
    email: text('email').notNull(),
    role: roleEnum('role').notNull(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    declinedAt: timestamp('declined_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('invitations_tenant_id_email_idx')
      .on(t.tenantId, sql`lower(${t.email})`)
      .where(sql`${t.acceptedAt} is null and ${t.declinedAt} is null and ${t.revokedAt} is null`),
    index('invitations_email_idx').on(sql`lower(${t.email})`),
  ],
);

/**
 * Each organization's data keys (envelope encryption): a random AES-256 key per organization and
 * version, stored sealed under the key ring (KEELSON_ENCRYPTION_KEYS). Payloads of an organization
 * are sealed with its newest data key and name it; older versions stay to open older payloads.
 */
export const organizationKeys = pgTable(
  'organization_keys',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    /** The data key, sealed under the ring (`v1.<ring key id>.<base64>`). */
    keySealed: text('key_sealed').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.version] })],
);
