import { SuspensionOperation, SuspensionSignal, WorkflowId, WorkflowType, resourceRef, type SuspensionReason } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { runForTenant } from '@keelson/common/tenant-scope';
import type { Database } from '@keelson/db';
import { apps, containers, guests, releases, serviceSuspensions, subscriptions } from '@keelson/db/schema';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { and, eq, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';

/**
 * Service suspension with a reason (decision 0027): the one module that holds and releases a
 * customer's service. Anyone who suspends (a dunning ladder, a staff member, a KYC case) records
 * a hold for its reason and nudges the service's suspension run, `suspension/<resource>`, which
 * alone changes the service's power for suspensions: it stops the service for the first hold,
 * starts it again when the last hold is lifted, and writes `suspendedAt` / `restoredAt` only
 * after the change happened.
 */

type Executor = Pick<Database, 'select' | 'selectDistinct' | 'insert' | 'update' | 'execute'>;

/** What a resource reference names, and how the suspension run stops and starts it. */
export type SuspensionTarget =
  | { kind: 'proxmox_guest'; guestId: string; clusterId: string; node: string; vmid: number; guestKind: 'qemu' | 'lxc'; name: string }
  | { kind: 'container'; containerId: string; nodeId: string; name: string }
  | { kind: 'app'; appId: string; nodeId: string; hostname: string; upstream: string | null; name: string };

export interface HoldRequest {
  tenantId: string;
  /** `proxmox-guest:<id>`, `container:<id>` or `app:<id>`. */
  resource: string;
  reason: SuspensionReason;
  /** What asked for it: `invoice:<id>`, `kyc:<customer>`, `staff`. */
  source: string;
  note?: string;
  /** `user:<id>`, `system`. */
  requestedBy: string;
  subscriptionId?: string | null;
}

export const RESOURCE_PATTERN = /^(proxmox-guest|container|app):[0-9a-f-]{36}$/;

/**
 * Records a hold of `reason` on the service (or finds the open one: at most one per service and
 * reason). Does not touch the service; `nudgeSuspension` asks its run to act.
 */
export async function holdService(db: Executor, req: HoldRequest): Promise<{ holdId: string; created: boolean }> {
  if (!RESOURCE_PATTERN.test(req.resource)) throw new Error(`not a service reference: ${req.resource}`);
  const [row] = await db
    .insert(serviceSuspensions)
    .values({ tenantId: req.tenantId, resource: req.resource, reason: req.reason, source: req.source, note: req.note ?? '', requestedBy: req.requestedBy, subscriptionId: req.subscriptionId ?? null })
    .onConflictDoNothing({ target: [serviceSuspensions.tenantId, serviceSuspensions.resource, serviceSuspensions.reason], where: sql`${serviceSuspensions.liftedAt} is null` })
    .returning({ id: serviceSuspensions.id });
  if (row) return { holdId: row.id, created: true };
  const [open] = await db
    .select({ id: serviceSuspensions.id })
    .from(serviceSuspensions)
    .where(and(eq(serviceSuspensions.tenantId, req.tenantId), eq(serviceSuspensions.resource, req.resource), eq(serviceSuspensions.reason, req.reason), isNull(serviceSuspensions.liftedAt)));
  if (!open) throw new Error(`hold of ${req.resource} for ${req.reason} vanished while recorded; try again`);
  return { holdId: open.id, created: false };
}

/**
 * Lifts the open hold of `reason` on the service, if there is one (only that reason: a service
 * held for another reason stays held). `source`, when given, lifts it only if that source asked
 * for it (a paid invoice lifts the `overdue` hold its own ladder made, not another invoice's).
 */
export async function liftHold(db: Executor, input: { tenantId: string; resource: string; reason: SuspensionReason; liftedBy: string; source?: string }): Promise<{ holdId: string | null }> {
  const [row] = await db
    .update(serviceSuspensions)
    .set({ liftedAt: sql`now()`, liftedBy: input.liftedBy })
    .where(
      and(
        eq(serviceSuspensions.tenantId, input.tenantId),
        eq(serviceSuspensions.resource, input.resource),
        eq(serviceSuspensions.reason, input.reason),
        isNull(serviceSuspensions.liftedAt),
        input.source ? eq(serviceSuspensions.source, input.source) : undefined,
      ),
    )
    .returning({ id: serviceSuspensions.id });
  return { holdId: row?.id ?? null };
}

/**
 * Asks the service's suspension run to bring the service to what its holds say (starting the run
 * if none is going). Safe to repeat: a nudge with nothing to do changes nothing.
 */
export async function nudgeSuspension(temporal: Client, input: { tenantId: string; resource: string; taskQueue: string; actor: string; customerId?: string | null }): Promise<{ workflowId: string }> {
  const workflowId = WorkflowId.serviceSuspension(input.resource);
  // Sealed with the organization's data key, as every payload about it (decision 0016).
  await runForTenant(input.tenantId, () => temporal.workflow.signalWithStart(WorkflowType.serviceSuspension, {
    workflowId,
    taskQueue: input.taskQueue,
    args: [{ tenantId: input.tenantId, resource: input.resource, actor: input.actor }],
    signal: SuspensionSignal.reconcile,
    signalArgs: [],
    typedSearchAttributes: runSearchAttributes({
      tenantId: input.tenantId,
      operation: SuspensionOperation.reconcile,
      resources: [input.resource, ...(input.customerId ? [resourceRef('customer', input.customerId)] : [])],
      actor: input.actor,
    }),
  }));
  return { workflowId };
}

/** The holds of a service as its suspension run needs them. */
export interface SuspensionState {
  target: SuspensionTarget | null;
  /** The service no longer exists (destroyed, removed): nothing to stop or start. */
  gone: boolean;
  /** Holds in force (not lifted). */
  open: Array<{ id: string; reason: SuspensionReason; suspended: boolean }>;
  /** The service is stopped for suspensions: some hold was recorded suspended and not yet restored. */
  held: boolean;
  /** Lifted holds the service was stopped for, waiting for it to run again. */
  toRestore: string[];
}

export async function loadSuspensionState(db: Executor, tenantId: string, resource: string): Promise<SuspensionState> {
  const rows = await db
    .select({ id: serviceSuspensions.id, reason: serviceSuspensions.reason, suspendedAt: serviceSuspensions.suspendedAt, liftedAt: serviceSuspensions.liftedAt, restoredAt: serviceSuspensions.restoredAt })
    .from(serviceSuspensions)
    .where(and(eq(serviceSuspensions.tenantId, tenantId), eq(serviceSuspensions.resource, resource)));
  const target = await resolveTarget(db, tenantId, resource);
  return {
    target: target.target,
    gone: target.gone,
    open: rows.filter((r) => !r.liftedAt).map((r) => ({ id: r.id, reason: r.reason, suspended: r.suspendedAt !== null })),
    held: rows.some((r) => r.suspendedAt && !r.restoredAt),
    toRestore: rows.filter((r) => r.liftedAt && r.suspendedAt && !r.restoredAt).map((r) => r.id),
  };
}

async function resolveTarget(db: Executor, tenantId: string, resource: string): Promise<{ target: SuspensionTarget | null; gone: boolean }> {
  const [kind, id] = resource.split(':') as [string, string];
  if (kind === 'proxmox-guest') {
    const [g] = await db.select().from(guests).where(and(eq(guests.tenantId, tenantId), eq(guests.id, id)));
    if (!g || g.state === 'destroyed' || g.state === 'failed' || g.vmid === null || !g.node) return { target: null, gone: true };
    return { target: { kind: 'proxmox_guest', guestId: g.id, clusterId: g.clusterId, node: g.node, vmid: g.vmid, guestKind: g.kind, name: g.name }, gone: false };
  }
  if (kind === 'container') {
    const [c] = await db.select().from(containers).where(and(eq(containers.tenantId, tenantId), eq(containers.id, id)));
    if (!c || c.state === 'removed' || c.state === 'removing') return { target: null, gone: true };
    return { target: { kind: 'container', containerId: c.id, nodeId: c.nodeId, name: c.name }, gone: false };
  }
  if (kind === 'app') {
    const [a] = await db
      .select({ id: apps.id, nodeId: apps.nodeId, hostname: apps.hostname, name: apps.name, upstream: releases.upstream })
      .from(apps)
      .leftJoin(releases, eq(releases.id, apps.currentReleaseId))
      .where(and(eq(apps.tenantId, tenantId), eq(apps.id, id)));
    if (!a) return { target: null, gone: true };
    return { target: { kind: 'app', appId: a.id, nodeId: a.nodeId, hostname: a.hostname, upstream: a.upstream, name: a.name }, gone: false };
  }
  return { target: null, gone: true };
}

/**
 * How the apps of this node stand for suspensions, for its route restorer: `held` maps the apps
 * with a hold in force to its reasons (their hostname answers the suspended page); `lifting`
 * lists the apps whose last hold was lifted and whose suspension run has not yet switched them
 * back (their route is that run's to change).
 */
export async function suspendedApps(db: Executor, nodeId: string): Promise<{ held: Map<string, SuspensionReason[]>; lifting: Set<string> }> {
  const rows = await db
    .select({ appId: apps.id, reason: serviceSuspensions.reason, suspendedAt: serviceSuspensions.suspendedAt, liftedAt: serviceSuspensions.liftedAt, restoredAt: serviceSuspensions.restoredAt })
    .from(serviceSuspensions)
    .innerJoin(apps, and(eq(apps.tenantId, serviceSuspensions.tenantId), sql`${serviceSuspensions.resource} = 'app:' || ${apps.id}::text`))
    .where(and(eq(apps.nodeId, nodeId), or(isNull(serviceSuspensions.liftedAt), and(isNotNull(serviceSuspensions.suspendedAt), isNull(serviceSuspensions.restoredAt)))));
  const held = new Map<string, SuspensionReason[]>();
  const lifting = new Set<string>();
  for (const r of rows) {
    if (!r.liftedAt) held.set(r.appId, [...(held.get(r.appId) ?? []), r.reason]);
    else lifting.add(r.appId);
  }
  for (const appId of held.keys()) lifting.delete(appId);
  return { held, lifting };
}

/** The reasons of the app's holds in force (none: it is not suspended). */
export async function appSuspensionReasons(db: Executor, appId: string): Promise<SuspensionReason[]> {
  const rows = await db
    .select({ reason: serviceSuspensions.reason })
    .from(serviceSuspensions)
    .innerJoin(apps, and(eq(apps.tenantId, serviceSuspensions.tenantId), sql`${serviceSuspensions.resource} = 'app:' || ${apps.id}::text`))
    .where(and(eq(apps.id, appId), isNull(serviceSuspensions.liftedAt)));
  return rows.map((r) => r.reason);
}

export interface SuspensionDeps {
  db: Database;
  /** For nudging other services' suspension runs (dunning, KYC). */
  temporal?: Client;
}

const currentTaskQueue = () => {
  try {
    return Context.current().info.taskQueue;
  } catch {
    return undefined;
  }
};

/** The activities the suspension run and the features that suspend use. */
export function createSuspensionActivities({ db, temporal }: SuspensionDeps) {
  return {
    async suspensionState(input: { tenantId: string; resource: string }): Promise<SuspensionState> {
      return loadSuspensionState(db, input.tenantId, input.resource);
    },

    /** Records that the service was stopped while these holds were in force (after it was). */
    async suspensionMarkSuspended(input: { tenantId: string; holdIds: string[] }): Promise<void> {
      if (!input.holdIds.length) return;
      await db
        .update(serviceSuspensions)
        .set({ suspendedAt: sql`now()` })
        .where(and(eq(serviceSuspensions.tenantId, input.tenantId), inArray(serviceSuspensions.id, input.holdIds), isNull(serviceSuspensions.suspendedAt)));
    },

    /** Records that the service runs again for these lifted holds (after it does). */
    async suspensionMarkRestored(input: { tenantId: string; holdIds: string[] }): Promise<void> {
      if (!input.holdIds.length) return;
      await db
        .update(serviceSuspensions)
        .set({ restoredAt: sql`now()` })
        .where(and(eq(serviceSuspensions.tenantId, input.tenantId), inArray(serviceSuspensions.id, input.holdIds), isNull(serviceSuspensions.restoredAt)));
    },

    /**
     * Holds the services for `reason` and nudges their runs: one call per feature step (a
     * ladder's suspension of an invoice's services). Repeating it finds the same holds.
     */
    async suspensionHold(input: { tenantId: string; resources: Array<{ resource: string; subscriptionId?: string | null; customerId?: string | null }>; reason: SuspensionReason; source: string; note?: string; actor: string }): Promise<{ holdIds: string[] }> {
      const holdIds: string[] = [];
      for (const r of input.resources) {
        const { holdId } = await holdService(db, { tenantId: input.tenantId, resource: r.resource, reason: input.reason, source: input.source, note: input.note, requestedBy: input.actor, subscriptionId: r.subscriptionId });
        holdIds.push(holdId);
        await nudge(input.tenantId, r.resource, input.actor, r.customerId);
      }
      return { holdIds };
    },

    /** Lifts `reason` (only holds `source` asked for, when given) on the services and nudges their runs. */
    async suspensionLift(input: { tenantId: string; resources: Array<{ resource: string; customerId?: string | null }>; reason: SuspensionReason; source?: string; actor: string }): Promise<{ lifted: string[] }> {
      const lifted: string[] = [];
      for (const r of input.resources) {
        const { holdId } = await liftHold(db, { tenantId: input.tenantId, resource: r.resource, reason: input.reason, liftedBy: input.actor, source: input.source });
        if (holdId) lifted.push(holdId);
        // Nudged even when nothing was lifted now: a retry after a crash between the two steps.
        await nudge(input.tenantId, r.resource, input.actor, r.customerId);
      }
      return { lifted };
    },

    /**
     * Where the holds stand: every hold id suspended (the service stopped for it) or not yet.
     * Throws (retried) until they all are, so a caller waits for the suspension to have happened.
     */
    async suspensionAwait(input: { tenantId: string; holdIds: string[]; until: 'suspended' | 'restored' }): Promise<{ done: string[]; gone: string[] }> {
      if (!input.holdIds.length) return { done: [], gone: [] };
      const rows = await db
        .select({ id: serviceSuspensions.id, resource: serviceSuspensions.resource, suspendedAt: serviceSuspensions.suspendedAt, restoredAt: serviceSuspensions.restoredAt, liftedAt: serviceSuspensions.liftedAt })
        .from(serviceSuspensions)
        .where(and(eq(serviceSuspensions.tenantId, input.tenantId), inArray(serviceSuspensions.id, input.holdIds)));
      const done: string[] = [];
      const gone: string[] = [];
      for (const r of rows) {
        const reached = input.until === 'suspended' ? r.suspendedAt !== null || r.liftedAt !== null : r.restoredAt !== null;
        if (reached) {
          done.push(r.id);
          continue;
        }
        if ((await resolveTarget(db, input.tenantId, r.resource)).gone) gone.push(r.id);
        // Another reason still holds a lifted one: it stays stopped, and that is the outcome.
        else if (input.until === 'restored' && (await loadSuspensionState(db, input.tenantId, r.resource)).open.length > 0) done.push(r.id);
      }
      const waiting = input.holdIds.filter((id) => !done.includes(id) && !gone.includes(id));
      if (waiting.length) throw ApplicationFailure.create({ type: 'SuspensionPending', message: `${waiting.length} service(s) not yet ${input.until}` });
      return { done, gone };
    },

    /**
     * The services of a customer that a suspension can hold: each subscription still providing
     * one (trialing, active or suspended; not pending or cancelled) with its service reference.
     */
    async suspensionServicesOfCustomer(input: { tenantId: string; customerId: string }): Promise<Array<{ resource: string; subscriptionId: string; customerId: string }>> {
      const rows = await db
        .select({ resource: subscriptions.resource, subscriptionId: subscriptions.id, customerId: subscriptions.customerId })
        .from(subscriptions)
        .where(
          and(
            eq(subscriptions.tenantId, input.tenantId),
            eq(subscriptions.customerId, input.customerId),
            inArray(subscriptions.status, ['trialing', 'active', 'suspended']),
            isNotNull(subscriptions.resource),
          ),
        );
      return rows.filter((r): r is { resource: string; subscriptionId: string; customerId: string } => !!r.resource && RESOURCE_PATTERN.test(r.resource));
    },

    /**
     * The services `source` holds for `reason`: open holds, and lifted ones whose service has not
     * run again yet (so lifting them again after a crash still nudges their runs).
     */
    async suspensionHeldBy(input: { tenantId: string; reason: SuspensionReason; source: string }): Promise<Array<{ resource: string }>> {
      const rows = await db
        .selectDistinct({ resource: serviceSuspensions.resource })
        .from(serviceSuspensions)
        .where(
          and(
            eq(serviceSuspensions.tenantId, input.tenantId),
            eq(serviceSuspensions.reason, input.reason),
            eq(serviceSuspensions.source, input.source),
            sql`(${serviceSuspensions.liftedAt} is null or (${serviceSuspensions.suspendedAt} is not null and ${serviceSuspensions.restoredAt} is null))`,
          ),
        );
      return rows;
    },

    /** The services of a subscription (one today: `subscriptions.resource`). */
    async suspensionServicesOf(input: { tenantId: string; subscriptionIds: string[] }): Promise<Array<{ resource: string; subscriptionId: string; customerId: string }>> {
      if (!input.subscriptionIds.length) return [];
      const rows = await db
        .select({ resource: subscriptions.resource, subscriptionId: subscriptions.id, customerId: subscriptions.customerId })
        .from(subscriptions)
        .where(and(eq(subscriptions.tenantId, input.tenantId), inArray(subscriptions.id, input.subscriptionIds), isNotNull(subscriptions.resource)));
      return rows.filter((r): r is { resource: string; subscriptionId: string; customerId: string } => !!r.resource && RESOURCE_PATTERN.test(r.resource));
    },
  };

  async function nudge(tenantId: string, resource: string, actor: string, customerId?: string | null) {
    if (!temporal) throw new Error('suspension activities need a Temporal client to nudge suspension runs');
    const taskQueue = currentTaskQueue();
    if (!taskQueue) throw new Error('nudging a suspension run from outside an activity needs a task queue');
    await nudgeSuspension(temporal, { tenantId, resource, taskQueue, actor, customerId });
  }
}

export type SuspensionActivities = ReturnType<typeof createSuspensionActivities>;
