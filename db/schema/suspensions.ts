import { SUSPENSION_REASONS } from '@keelson/common/constants';
import { sql } from 'drizzle-orm';
import { index, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { subscriptions } from './billing';
import { tenants } from './tenancy';

/**
 * Why a customer's service is held. Each reason is a row of its own, lifted on its own: a
 * service runs again only when no reason holds it any more (decision 0027).
 */
export { SUSPENSION_REASONS, type SuspensionReason } from '@keelson/common/constants';
export const suspensionReasonEnum = pgEnum('suspension_reason', SUSPENSION_REASONS);

const ts = (name: string) => timestamp(name, { withTimezone: true });

/**
 * One reason holding one service (a Proxmox guest, a container, an app), from the request to the
 * service coming back. A service has at most one open hold per reason (a partial unique index),
 * so asking twice for the same reason is the same hold.
 *
 * `suspendedAt` is written only after the service was stopped (or found already stopped by
 * another hold); `restoredAt` only after it ran again. Both are set by the service's suspension
 * run (`suspension/<resource>`), the one thing that changes the service's power for a reason.
 */
export const serviceSuspensions = pgTable(
  'service_suspensions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    /** `proxmox-guest:<id>`, `container:<id>` or `app:<id>` (as `subscriptions.resource`). */
    resource: text('resource').notNull(),
    /** The subscription the service was provisioned for, when there is one. */
    subscriptionId: uuid('subscription_id').references(() => subscriptions.id, { onDelete: 'set null' }),
    reason: suspensionReasonEnum('reason').notNull(),
    /** What asked for it: `invoice:<id>` for a dunning ladder, `kyc:<customer>`, a staff member's note. */
    source: text('source').notNull(),
    note: text('note').notNull().default(''),
    /** Who asked (`user:<id>`, `system`). */
    requestedBy: text('requested_by').notNull(),
    requestedAt: ts('requested_at').notNull().defaultNow(),
    /** The service was stopped while this hold was in force (recorded after it happened). */
    suspendedAt: ts('suspended_at'),
    /** Someone lifted this reason (a payment, a member, a KYC approval). */
    liftedAt: ts('lifted_at'),
    liftedBy: text('lifted_by'),
    /** The service ran again after this hold was lifted (null when another reason kept it held). */
    restoredAt: ts('restored_at'),
  },
  (t) => [
    uniqueIndex('service_suspensions_tenant_id_resource_reason_idx').on(t.tenantId, t.resource, t.reason).where(sql`${t.liftedAt} is null`),
    index('service_suspensions_tenant_id_resource_idx').on(t.tenantId, t.resource),
    index('service_suspensions_subscription_id_idx').on(t.subscriptionId),
  ],
);
