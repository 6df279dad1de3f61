import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { invoices } from './billing';
import { tenants } from './tenancy';

/**
 * Dunning: the organization's ladder (what happens how many days after an invoice's due date)
 * and, per unpaid invoice, the steps its ladder planned and what each did (decision 0027).
 */

const ts = (name: string) => timestamp(name, { withTimezone: true });

export const DUNNING_STEP_KINDS = [
  /** A reminder email. */
  'reminder',
  /** Charge the card on file again (the payments side's `billingChargeInvoice`). */
  'retry',
  /** The last email before the services are suspended and terminated. */
  'final_notice',
  /** Stop the invoice's services (reason `overdue`). */
  'suspend',
  /** Destroy the invoice's services (after an approval, when the organization wants one). */
  'terminate',
] as const;
export type DunningStepKind = (typeof DUNNING_STEP_KINDS)[number];

/** One rung: `kind` happens `day` days after the due date (0: on the due date). */
export interface DunningRung {
  day: number;
  kind: DunningStepKind;
}

/** Reminder on the due date, D+3 reminder and card retry, D+7 final notice, D+10 suspend, D+30 terminate. */
export const DEFAULT_DUNNING_LADDER: DunningRung[] = [
  { day: 0, kind: 'reminder' },
  { day: 3, kind: 'reminder' },
  { day: 3, kind: 'retry' },
  { day: 7, kind: 'final_notice' },
  { day: 10, kind: 'suspend' },
  { day: 30, kind: 'terminate' },
];

/** An organization's ladder; without a row, `DEFAULT_DUNNING_LADDER` without a termination approval. */
export const dunningSettings = pgTable('dunning_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  /** Off: finalized invoices start no ladder (invoices already being dunned carry on). */
  enabled: boolean('enabled').notNull().default(true),
  ladder: jsonb('ladder').$type<DunningRung[]>().notNull(),
  /** A person with billing rights approves each termination; unanswered, nothing is destroyed. */
  terminationApproval: boolean('termination_approval').notNull().default(true),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const DUNNING_STEP_OUTCOMES = ['sent', 'charged', 'declined', 'skipped', 'suspended', 'terminated', 'rejected', 'failed'] as const;
export type DunningStepOutcome = (typeof DUNNING_STEP_OUTCOMES)[number];

/**
 * The steps an invoice's ladder planned when it started (a snapshot: later changes to the
 * organization's ladder do not move them) and, once done, when and with what outcome. Written by
 * `dunning/<invoice>` only; the invoice page reads them.
 */
export const dunningSteps = pgTable(
  'dunning_steps',
  {
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    invoiceId: uuid('invoice_id')
      .notNull()
      .references(() => invoices.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    day: integer('day').notNull(),
    kind: text('kind').$type<DunningStepKind>().notNull(),
    scheduledAt: ts('scheduled_at').notNull(),
    doneAt: ts('done_at'),
    outcome: text('outcome').$type<DunningStepOutcome>(),
    note: text('note').notNull().default(''),
    /** The email this step sent (reminders and the final notice). */
    emailId: uuid('email_id'),
    createdAt: ts('created_at').notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.invoiceId, t.position] })],
);
