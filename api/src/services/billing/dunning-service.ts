import { loadDunningSettings, orderLadder } from '@keelson/activities/billing/dunning';
import { WorkflowId } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { dunningSettings, dunningSteps, invoices, outboundEmails, subscriptions, type DunningRung } from '@keelson/db/schema';
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { ForbiddenError, NotFoundError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerScope } from '../customer-scope';
import { holdsOf } from '../suspension-service';

/**
 * The dunning ladder as the API sees it (decision 0027): the organization's ladder settings and an
 * invoice's ladder as it runs (steps, emails, suspension state). Paying an invoice tells its
 * ladder with `invoicePaid` (`tellDunningPaid` in payments-service).
 */

export async function getDunningSettings(ctx: ServiceContext) {
  if (customerScope(ctx)) throw new ForbiddenError('dunning settings are for staff');
  return loadDunningSettings(ctx.deps.db, ctx.principal.tenantId);
}

export async function putDunningSettings(ctx: ServiceContext, input: { enabled: boolean; ladder: DunningRung[]; terminationApproval: boolean }) {
  if (customerScope(ctx)) throw new ForbiddenError('dunning settings are for staff');
  const ladder = orderLadder(input.ladder);
  await ctx.deps.db.transaction(async (tx) => {
    await tx
      .insert(dunningSettings)
      .values({ tenantId: ctx.principal.tenantId, enabled: input.enabled, ladder, terminationApproval: input.terminationApproval })
      .onConflictDoUpdate({ target: dunningSettings.tenantId, set: { enabled: input.enabled, ladder, terminationApproval: input.terminationApproval, updatedAt: sql`now()` } });
    await writeAudit(tx, { ...auditActor(ctx), action: 'billing.dunning_settings', resourceType: 'billing_settings', resourceId: ctx.principal.tenantId, details: { enabled: input.enabled, ladder, terminationApproval: input.terminationApproval } });
  });
  return getDunningSettings(ctx);
}

/** The invoice's ladder as it runs: planned steps (when, done or pending, what they did), its emails, and its services' suspension. */
export async function invoiceDunning(ctx: ServiceContext, invoiceId: string) {
  const { db } = ctx.deps;
  const tenantId = ctx.principal.tenantId;
  const scope = customerScope(ctx);
  const [inv] = await db
    .select({ id: invoices.id, status: invoices.status, dueAt: invoices.dueAt, subscriptionId: invoices.subscriptionId, resource: subscriptions.resource })
    .from(invoices)
    .leftJoin(subscriptions, eq(subscriptions.id, invoices.subscriptionId))
    .where(and(eq(invoices.tenantId, tenantId), eq(invoices.id, invoiceId), scope ? eq(invoices.customerId, scope) : undefined));
  if (!inv) throw new NotFoundError('invoice');
  const steps = await db.select().from(dunningSteps).where(and(eq(dunningSteps.tenantId, tenantId), eq(dunningSteps.invoiceId, invoiceId))).orderBy(asc(dunningSteps.position));
  const emailIds = steps.map((s) => s.emailId).filter((id): id is string => id !== null);
  const emails = emailIds.length
    ? await db.select({ id: outboundEmails.id, status: outboundEmails.status, sentAt: outboundEmails.sentAt, subject: outboundEmails.subject }).from(outboundEmails).where(and(eq(outboundEmails.tenantId, tenantId), inArray(outboundEmails.id, emailIds)))
    : [];
  let run: { workflowId: string; status: string } | null = null;
  try {
    const d = await ctx.deps.temporal.workflow.getHandle(WorkflowId.dunning(invoiceId)).describe();
    run = { workflowId: d.workflowId, status: d.status.name };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  // The holds this ladder made, and any other on the invoice's service (staff, KYC, another invoice).
  const holds = inv.resource ? await holdsOf(ctx, inv.resource) : [];
  return {
    invoiceId,
    status: inv.status,
    dueAt: inv.dueAt?.toISOString() ?? null,
    run,
    steps: steps.map((s) => {
      const email = emails.find((e) => e.id === s.emailId);
      return {
        position: s.position,
        day: s.day,
        kind: s.kind,
        scheduledAt: s.scheduledAt.toISOString(),
        doneAt: s.doneAt?.toISOString() ?? null,
        outcome: s.outcome,
        note: s.note,
        email: email ? { status: email.status, subject: email.subject, sentAt: email.sentAt?.toISOString() ?? null } : null,
      };
    }),
    service: inv.resource,
    suspensions: holds,
  };
}
