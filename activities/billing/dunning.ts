import type { Database } from '@keelson/db';
import { billingSettings, DEFAULT_DUNNING_LADDER, dunningSettings, dunningSteps, invoices, serviceSuspensions, type DunningRung, type DunningStepKind, type DunningStepOutcome } from '@keelson/db/schema';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { enqueueEmail } from '../mail/outbox';
import { invoiceFilename } from './documents';
import { formatMoney } from './pdf';

/**
 * The dunning ladder's bookkeeping (decision 0027): the organization's ladder, the steps an
 * invoice's ladder planned, their emails (each once: kind `dunning.<step>`, key
 * `<invoice>/<position>`), and what each step did. The run itself is `workflows/billing/dunning.ts`.
 */

export const DAY_MS = 86_400_000;

export interface DunningDeps {
  db: Database;
  /** The billing clock ("now"), as the billing activities read it. */
  now?: () => Date;
  /** How long one ladder day lasts: a day in production, a fraction of a second in tests. */
  dayMs?: number;
  /**
   * How often a ladder that has done every step re-reads its invoice while it waits for the
   * payment (in case a signal was lost). Default: once a ladder day.
   */
  recheckMs?: number;
}

export interface PlannedStep {
  position: number;
  day: number;
  kind: DunningStepKind;
  scheduledAt: string;
  doneAt: string | null;
  outcome: DunningStepOutcome | null;
}

export type DunningPlan =
  | { active: false; reason: string }
  | { active: true; now: string; dayMs: number; recheckMs?: number; number: string; customerId: string; subscriptionId: string | null; terminationApproval: boolean; steps: PlannedStep[] };

/** The organization's ladder: its own, or the default one. */
export async function loadDunningSettings(db: Pick<Database, 'select'>, tenantId: string): Promise<{ enabled: boolean; ladder: DunningRung[]; terminationApproval: boolean }> {
  const [row] = await db.select().from(dunningSettings).where(eq(dunningSettings.tenantId, tenantId));
  return row ? { enabled: row.enabled, ladder: row.ladder, terminationApproval: row.terminationApproval } : { enabled: true, ladder: DEFAULT_DUNNING_LADDER, terminationApproval: true };
}

/** Rungs in the order they happen (by day; on the same day as configured). */
export function orderLadder(ladder: DunningRung[]): DunningRung[] {
  return ladder.map((r, i) => ({ r, i })).sort((a, b) => a.r.day - b.r.day || a.i - b.i).map(({ r }) => r);
}

const STEP_SUBJECT: Record<'reminder' | 'final_notice', (number: string, seller: string) => string> = {
  reminder: (n, s) => `Reminder: invoice ${n} from ${s} is due`,
  final_notice: (n, s) => `Final notice: invoice ${n} from ${s} is overdue`,
};

export function createDunningActivities({ db, now = () => new Date(), dayMs = DAY_MS, recheckMs = dayMs }: DunningDeps) {
  return {
    /**
     * Plans the invoice's ladder once (a snapshot of the organization's ladder, each step's time
     * from the due date) and returns it with the clock. An invoice that is not finalized with a
     * due date, or an organization that turned dunning off, starts no ladder.
     */
    async dunningStart(input: { tenantId: string; invoiceId: string }): Promise<DunningPlan> {
      const [inv] = await db
        .select({ status: invoices.status, dueAt: invoices.dueAt, number: invoices.number, customerId: invoices.customerId, subscriptionId: invoices.subscriptionId })
        .from(invoices)
        .where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.id, input.invoiceId)));
      if (!inv) return { active: false, reason: 'the invoice does not exist' };
      if (inv.status !== 'finalized' || !inv.dueAt || !inv.number) return { active: false, reason: `the invoice is ${inv.status}` };
      const settings = await loadDunningSettings(db, input.tenantId);
      const existing = await steps(input.tenantId, input.invoiceId);
      if (!existing.length) {
        if (!settings.enabled) return { active: false, reason: 'dunning is off for the organization' };
        const ladder = orderLadder(settings.ladder);
        if (ladder.length) {
          const due = inv.dueAt.getTime();
          await db
            .insert(dunningSteps)
            .values(ladder.map((r, position) => ({ tenantId: input.tenantId, invoiceId: input.invoiceId, position, day: r.day, kind: r.kind, scheduledAt: new Date(due + r.day * dayMs) })))
            .onConflictDoNothing();
        }
      }
      return {
        active: true,
        now: now().toISOString(),
        dayMs,
        recheckMs,
        number: inv.number,
        customerId: inv.customerId,
        subscriptionId: inv.subscriptionId,
        terminationApproval: settings.terminationApproval,
        steps: await steps(input.tenantId, input.invoiceId),
      };
    },

    /** The invoice as it is now (each step re-reads it before acting) and the clock. */
    async dunningInvoice(input: { tenantId: string; invoiceId: string }): Promise<{ status: string; now: string }> {
      const [inv] = await db.select({ status: invoices.status }).from(invoices).where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.id, input.invoiceId)));
      return { status: inv?.status ?? 'missing', now: now().toISOString() };
    },

    /**
     * Records the step's email (once per step: kind `dunning.<kind>`, key `<invoice>/<position>`,
     * so its Message-ID is fixed) with the invoice's PDF. Null when the customer has no billing email.
     */
    async dunningQueueEmail(input: { tenantId: string; invoiceId: string; position: number; kind: 'reminder' | 'final_notice'; suspendOn?: string | null }): Promise<{ emailId: string | null }> {
      const [inv] = await db
        .select({ number: invoices.number, totalMinor: invoices.totalMinor, currency: invoices.currency, dueAt: invoices.dueAt, snapshot: invoices.customerSnapshot, pdfFileId: invoices.pdfFileId })
        .from(invoices)
        .where(and(eq(invoices.tenantId, input.tenantId), eq(invoices.id, input.invoiceId)));
      const to = inv?.snapshot?.email;
      if (!inv || !to || !inv.number) return { emailId: null };
      const [seller] = await db.select({ legalName: billingSettings.legalName }).from(billingSettings).where(eq(billingSettings.tenantId, input.tenantId));
      const from = seller?.legalName || 'us';
      const amount = formatMoney(inv.totalMinor, inv.currency);
      const due = inv.dueAt ? inv.dueAt.toISOString().slice(0, 10) : 'now';
      const body =
        input.kind === 'reminder'
          ? `invoice ${inv.number} for ${amount} was due on ${due} and we have not received your payment yet. Please pay it at your earliest convenience.`
          : `invoice ${inv.number} for ${amount}, due on ${due}, is still unpaid. Unless it is paid, your services will be suspended${input.suspendOn ? ` on ${input.suspendOn.slice(0, 10)}` : ''} and later terminated.`;
      const { emailId } = await enqueueEmail(db, {
        tenantId: input.tenantId,
        kind: `dunning.${input.kind}`,
        key: `${input.invoiceId}/${input.position}`,
        to: [to],
        subject: STEP_SUBJECT[input.kind](inv.number, from),
        text: `Hello ${inv.snapshot!.name},\n\n${body}\n\nIf you have paid in the meantime, please disregard this message.\n\n${from}\n`,
        attachments: inv.pdfFileId ? [{ fileId: inv.pdfFileId, filename: invoiceFilename(inv.number) }] : [],
        resource: `invoice:${input.invoiceId}`,
      });
      return { emailId };
    },

    /** Records what a step did, once (a repeat after a crash keeps the first record). */
    async dunningRecordStep(input: { tenantId: string; invoiceId: string; position: number; outcome: DunningStepOutcome; note?: string; emailId?: string | null }): Promise<void> {
      await db
        .update(dunningSteps)
        .set({ doneAt: now(), outcome: input.outcome, note: input.note ?? '', emailId: input.emailId ?? null })
        .where(and(eq(dunningSteps.tenantId, input.tenantId), eq(dunningSteps.invoiceId, input.invoiceId), eq(dunningSteps.position, input.position), isNull(dunningSteps.doneAt)));
    },

    /** The overdue holds this invoice's ladder made (for the restore on payment). */
    async dunningHolds(input: { tenantId: string; invoiceId: string }): Promise<Array<{ id: string; resource: string }>> {
      return db
        .select({ id: serviceSuspensions.id, resource: serviceSuspensions.resource })
        .from(serviceSuspensions)
        .where(and(eq(serviceSuspensions.tenantId, input.tenantId), eq(serviceSuspensions.reason, 'overdue'), eq(serviceSuspensions.source, `invoice:${input.invoiceId}`)));
    },
  };

  function steps(tenantId: string, invoiceId: string): Promise<PlannedStep[]> {
    return db
      .select({ position: dunningSteps.position, day: dunningSteps.day, kind: dunningSteps.kind, scheduledAt: dunningSteps.scheduledAt, doneAt: dunningSteps.doneAt, outcome: dunningSteps.outcome })
      .from(dunningSteps)
      .where(and(eq(dunningSteps.tenantId, tenantId), eq(dunningSteps.invoiceId, invoiceId)))
      .orderBy(asc(dunningSteps.position))
      .then((rows) => rows.map((r) => ({ ...r, scheduledAt: r.scheduledAt.toISOString(), doneAt: r.doneAt?.toISOString() ?? null })));
  }
}

export type DunningActivities = ReturnType<typeof createDunningActivities>;
