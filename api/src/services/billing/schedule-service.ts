import { billingScheduleId, BillingOperation, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { writeAudit } from '@keelson/db';
import { billingSettings } from '@keelson/db/schema';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { NotFoundError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';

/**
 * Each organization's billing Schedule (`billing/<organization>`): a billing run daily at the
 * configured hour in the configured zone. Runs the Schedule starts do not overlap (SKIP); a run
 * triggered by hand always starts, and overlapping runs are safe by construction (decision 0017).
 */
async function timing(ctx: ServiceContext) {
  const [s] = await ctx.deps.db.select({ runHour: billingSettings.runHour, runTimeZone: billingSettings.runTimeZone }).from(billingSettings).where(eq(billingSettings.tenantId, ctx.principal.tenantId));
  return { runHour: s?.runHour ?? 6, timeZone: s?.runTimeZone ?? 'UTC' };
}

function options(ctx: ServiceContext, t: { runHour: number; timeZone: string }): ScheduleOptions {
  const tenantId = ctx.principal.tenantId;
  const actor = 'schedule:billing';
  return {
    scheduleId: billingScheduleId(tenantId),
    spec: { calendars: [{ hour: t.runHour, minute: 0 }], timezone: t.timeZone },
    action: {
      type: 'startWorkflow',
      workflowType: WorkflowType.billingRun,
      workflowId: `billing-run/${tenantId}`,
      taskQueue: ctx.deps.config.coreTaskQueue,
      args: [{ tenantId, actor }],
      typedSearchAttributes: runSearchAttributes({ tenantId, operation: BillingOperation.run, resources: [], actor }),
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    state: { note: 'daily billing run' },
  };
}

/** Creates the Schedule, or re-aims it at the current hour and zone; its paused state is kept. */
export async function ensureBillingSchedule(ctx: ServiceContext): Promise<void> {
  const opts = options(ctx, await timing(ctx));
  try {
    await ctx.deps.temporal.schedule.create(opts);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await ctx.deps.temporal.schedule.getHandle(opts.scheduleId).update((previous) => ({ ...previous, spec: opts.spec, action: opts.action as typeof previous.action }));
  }
}

export async function describeBillingSchedule(ctx: ServiceContext) {
  const t = await timing(ctx);
  const scheduleId = billingScheduleId(ctx.principal.tenantId);
  try {
    const d = await ctx.deps.temporal.schedule.getHandle(scheduleId).describe();
    return {
      scheduleId,
      exists: true,
      paused: d.state.paused,
      note: d.state.note ?? null,
      runHour: t.runHour,
      timeZone: t.timeZone,
      nextRuns: d.info.nextActionTimes.slice(0, 5).map((x) => x.toISOString()),
      recentRuns: d.info.recentActions.map((a) => ({
        workflowId: 'workflow' in a.action ? a.action.workflow.workflowId : '',
        scheduledAt: a.scheduledAt.toISOString(),
        startedAt: a.takenAt.toISOString(),
      })),
    };
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    return { scheduleId, exists: false, paused: false, note: null, runHour: t.runHour, timeZone: t.timeZone, nextRuns: [], recentRuns: [] };
  }
}

/** Creates the Schedule if it does not exist yet; an existing one is left exactly as it is. */
async function createBillingScheduleIfMissing(ctx: ServiceContext): Promise<void> {
  try {
    await ctx.deps.temporal.schedule.create(options(ctx, await timing(ctx)));
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}

async function act(ctx: ServiceContext, action: string, details: Record<string, unknown>, fn: (handle: ReturnType<ServiceContext['deps']['temporal']['schedule']['getHandle']>) => Promise<void>) {
  // Not ensureBillingSchedule: its update writes the whole Schedule back, paused state included,
  // and Temporal's scheduler may apply a pause or resume sent right after it *before* it — the
  // resume was then undone by the state the update had read (seen under load).
  await createBillingScheduleIfMissing(ctx);
  const handle = ctx.deps.temporal.schedule.getHandle(billingScheduleId(ctx.principal.tenantId));
  try {
    await fn(handle);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new NotFoundError('billing schedule');
    throw err;
  }
  await writeAudit(ctx.deps.db, { ...auditActor(ctx), action: `billing.schedule.${action}`, resourceType: 'billing_schedule', resourceId: handle.scheduleId, details });
  return describeBillingSchedule(ctx);
}

export const pauseBillingSchedule = (ctx: ServiceContext, note?: string) => act(ctx, 'pause', { note: note ?? null }, (h) => h.pause(note ?? `paused by ${ctx.principal.actor}`));
export const resumeBillingSchedule = (ctx: ServiceContext) => act(ctx, 'resume', {}, (h) => h.unpause(`resumed by ${ctx.principal.actor}`));
/** Starts a run now, even while one is running (overlapping runs invoice nothing twice). */
export const triggerBillingRun = (ctx: ServiceContext) => act(ctx, 'trigger', {}, (h) => h.trigger(ScheduleOverlapPolicy.ALLOW_ALL));
/** Runs the Schedule for each missed day between `from` and `to` (after an outage or a pause). */
export const backfillBillingRuns = (ctx: ServiceContext, from: string, to: string) =>
  act(ctx, 'backfill', { from, to }, (h) => h.backfill({ start: new Date(from), end: new Date(to), overlap: ScheduleOverlapPolicy.ALLOW_ALL }));
