import { upsertVmBackupSchedule, deleteVmBackupSchedule, vmBackupScheduleId } from '@keelson/activities/proxmox/schedules';
import { resourceRef, SearchAttribute, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { guests, type GuestBackupPolicy, type GuestKindName } from '@keelson/db/schema';
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import { provisioningKeyPair } from '@keelson/activities/proxmox/keys';
import { randomUUID } from 'node:crypto';
import type { LxcProvisionInput } from '../../../workflows/lxc-provision';
import type { PowerAction, VmBackupInput, VmDestroyInput, VmPowerInput, VmResizeInput, VmSnapshotInput } from '../../../workflows/vm-lifecycle';
import type { VmProvisionInput } from '../../../workflows/vm-provision';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { auditActor, type ServiceContext } from './context';
import { requireCluster } from './proxmox-clusters-service';
import type { ProvisionGuestInput } from './proxmox-inputs';
import { startWorkflowRun, type StartedRun } from './runs-service';

type GuestRow = typeof guests.$inferSelect;

/** Root disk of a container when the request names none. */
const DEFAULT_ROOTFS_GIB = 8;

export function presentGuest(g: GuestRow) {
  return {
    id: g.id,
    clusterId: g.clusterId,
    kind: g.kind,
    name: g.name,
    vmid: g.vmid,
    node: g.node,
    ip: g.ip,
    cores: g.cores,
    memoryMiB: g.memoryMiB,
    diskGiB: g.diskGiB,
    adminUser: g.adminUser,
    state: g.state,
    lastError: g.lastError,
    workflowId: g.workflowId,
    backupSchedule: g.backupPolicy ? { cron: g.backupPolicy.cron, keep: g.backupPolicy.keep, storage: g.backupPolicy.storage ?? null, mode: g.backupPolicy.mode ?? null } : null,
    createdAt: g.createdAt.toISOString(),
    updatedAt: g.updatedAt.toISOString(),
  };
}

export async function listGuests(ctx: ServiceContext, filter: { clusterId?: string; includeDestroyed?: boolean }) {
  const rows = await ctx.deps.db
    .select()
    .from(guests)
    .where(
      and(
        eq(guests.tenantId, ctx.principal.tenantId),
        filter.clusterId ? eq(guests.clusterId, filter.clusterId) : undefined,
        filter.includeDestroyed ? undefined : ne(guests.state, 'destroyed'),
      ),
    )
    .orderBy(asc(guests.name), asc(guests.createdAt));
  return rows.map(presentGuest);
}

/** A guest of the caller's organization; another organization's is the same 404 as none. */
export async function requireGuest(ctx: ServiceContext, id: string): Promise<GuestRow> {
  const [row] = await ctx.deps.db.select().from(guests).where(and(eq(guests.tenantId, ctx.principal.tenantId), eq(guests.id, id)));
  if (!row) throw new NotFoundError('guest');
  return row;
}

const invalid = (field: string, message: string) => new ValidationError(`${field}: ${message}`, { issues: [{ path: field, message }] });

/**
 * Records the guest as `provisioning` and starts its provisioning run in one transaction: if
 * Temporal refuses the start, no record remains. The run records the outcome on the row.
 */
export async function provisionGuest(ctx: ServiceContext, kind: GuestKindName, input: ProvisionGuestInput): Promise<{ guest: ReturnType<typeof presentGuest>; run: StartedRun }> {
  const cluster = await requireCluster(ctx, input.clusterId).catch(() => {
    throw invalid('clusterId', 'no such cluster in this organization');
  });
  const guestId = randomUUID();
  const tenantId = ctx.principal.tenantId;
  const network = { ip: input.ipConfig.ip, gateway: input.ipConfig.gateway, bridge: input.ipConfig.bridge, nameserver: input.ipConfig.nameserver };
  const common = { clusterId: cluster.id, node: input.node, cores: input.cores, memoryMiB: input.memoryMiB, network, adminUser: input.user, adminSshKeys: input.sshKeys, tags: input.tags, guestId };
  const storage = input.storage ?? cluster.defaultStorage ?? undefined;

  let spec: { operation: string; workflowType: string; workflowId: string; input: Record<string, unknown> };
  let diskGiB: number | null;
  if (kind === 'lxc' && input.via === 'terraform') throw invalid('via', 'only VMs are provisioned through Terraform (infra/terraform/proxmox-vm makes VMs); a container is made through the Proxmox API');
  if (kind === 'qemu') {
    if (input.ostemplate) throw invalid('ostemplate', 'only containers are created from an ostemplate; a VM clones templateVmid');
    const templateVmid = input.templateVmid ?? cluster.defaultTemplateVmid;
    if (templateVmid == null) throw invalid('templateVmid', `cluster "${cluster.name}" has no default template; name one`);
    const workflowInput: Omit<VmProvisionInput, 'tenantId' | 'actor'> = { ...common, name: input.name, templateVmid, diskGiB: input.diskGiB, storage, provisioningKey: provisioningKeyPair(), via: input.via };
    spec = { operation: 'vm.provision', workflowType: WorkflowType.vmProvision, workflowId: WorkflowId.vmProvision(guestId), input: { ...workflowInput } };
    diskGiB = input.diskGiB ?? null;
  } else {
    if (input.templateVmid !== undefined) throw invalid('templateVmid', 'only VMs clone a template; a container is created from an ostemplate');
    const ostemplate = input.ostemplate ?? cluster.defaultOstemplate;
    if (!ostemplate) throw invalid('ostemplate', `cluster "${cluster.name}" has no default ostemplate; name one`);
    diskGiB = input.diskGiB ?? DEFAULT_ROOTFS_GIB;
    const workflowInput: Omit<LxcProvisionInput, 'tenantId' | 'actor'> = { ...common, hostname: input.name, ostemplate, rootfsGiB: diskGiB, storage, provisioningKey: provisioningKeyPair() };
    spec = { operation: 'lxc.provision', workflowType: WorkflowType.lxcProvision, workflowId: WorkflowId.lxcProvision(guestId), input: { ...workflowInput } };
  }

  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(guests)
      .values({ id: guestId, tenantId, clusterId: cluster.id, kind, name: input.name, node: input.node ?? null, cores: input.cores, memoryMiB: input.memoryMiB, diskGiB, adminUser: input.user, workflowId: spec.workflowId })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ConflictError(`a guest named "${input.name}" already exists on cluster "${cluster.name}"`);
    await writeAudit(tx, {
      ...auditActor(ctx),
      action: `${spec.operation}`,
      resourceType: 'guest',
      resourceId: guestId,
      details: { name: input.name, kind, clusterId: cluster.id, node: input.node ?? null, cores: input.cores, memoryMiB: input.memoryMiB, diskGiB },
    });
    const run = await startWorkflowRun(ctx, { ...spec, resources: [resourceRef('guest', guestId), resourceRef('cluster', cluster.id)] }, tx);
    return { guest: presentGuest(row), run };
  });
}

/** The guest as a lifecycle workflow targets it; only guests that exist on Proxmox qualify. */
function targetOf(g: GuestRow, what: string) {
  if (g.state === 'destroyed') throw new ConflictError(`guest "${g.name}" is destroyed`);
  if (g.state === 'provisioning') throw new ConflictError(`guest "${g.name}" is still being provisioned`);
  if (g.vmid === null || g.node === null) throw new ConflictError(`guest "${g.name}" has no ${g.kind === 'qemu' ? 'VM' : 'container'} on Proxmox to ${what} (its provisioning failed)`);
  return { clusterId: g.clusterId, node: g.node, vmid: g.vmid, kind: g.kind, guestId: g.id };
}

function startGuestRun(ctx: ServiceContext, g: GuestRow, operation: string, workflowType: string, workflowId: string, input: Record<string, unknown>) {
  return startWorkflowRun(ctx, { operation, workflowType, workflowId, input, resources: [resourceRef('guest', g.id), resourceRef('cluster', g.clusterId)] });
}

const requestId = () => randomUUID().slice(0, 8);

export async function powerGuest(ctx: ServiceContext, id: string, action: PowerAction, shutdownTimeoutSeconds?: number): Promise<StartedRun> {
  const g = await requireGuest(ctx, id);
  const input: Omit<VmPowerInput, 'tenantId' | 'actor'> = { ...targetOf(g, action), action, shutdownTimeoutSeconds };
  return startGuestRun(ctx, g, 'vm.power', WorkflowType.vmPower, WorkflowId.guestAction(g.id, action, requestId()), { ...input });
}

export async function resizeGuest(ctx: ServiceContext, id: string, changes: { cores?: number; memoryMiB?: number; diskGiB?: number }): Promise<StartedRun> {
  const g = await requireGuest(ctx, id);
  if (changes.cores === undefined && changes.memoryMiB === undefined && changes.diskGiB === undefined) throw invalid('', 'nothing to change: give cores, memoryMiB or diskGiB');
  if (changes.diskGiB !== undefined && g.diskGiB !== null && changes.diskGiB < g.diskGiB) {
    throw invalid('diskGiB', `disks only grow: ${g.name} has ${g.diskGiB} GiB, ${changes.diskGiB} would shrink it`);
  }
  const input: Omit<VmResizeInput, 'tenantId' | 'actor'> = { ...targetOf(g, 'resize'), ...changes };
  return startGuestRun(ctx, g, 'vm.resize', WorkflowType.vmResize, WorkflowId.guestAction(g.id, 'resize', requestId()), { ...input });
}

export async function snapshotGuest(ctx: ServiceContext, id: string, snapshot: string, description?: string): Promise<StartedRun> {
  const g = await requireGuest(ctx, id);
  const input: Omit<VmSnapshotInput, 'tenantId' | 'actor'> = { ...targetOf(g, 'snapshot'), snapshot, description };
  return startGuestRun(ctx, g, 'vm.snapshot', WorkflowType.vmSnapshot, WorkflowId.guestAction(g.id, 'snapshot', requestId()), { ...input });
}

export async function rollbackGuest(ctx: ServiceContext, id: string, snapshot: string): Promise<StartedRun> {
  const g = await requireGuest(ctx, id);
  const input: Omit<VmSnapshotInput, 'tenantId' | 'actor'> = { ...targetOf(g, 'roll back'), snapshot };
  return startGuestRun(ctx, g, 'vm.rollback', WorkflowType.vmRollback, WorkflowId.guestAction(g.id, 'rollback', requestId()), { ...input });
}

export async function backupGuest(ctx: ServiceContext, id: string, options: { storage?: string; keep: number; mode?: 'snapshot' | 'suspend' | 'stop' }): Promise<StartedRun> {
  const g = await requireGuest(ctx, id);
  const input: Omit<VmBackupInput, 'tenantId' | 'actor'> = { ...targetOf(g, 'back up'), ...options };
  return startGuestRun(ctx, g, 'vm.backup', WorkflowType.vmBackup, WorkflowId.guestAction(g.id, 'backup', requestId()), { ...input });
}

/**
 * Destroys the guest and its disks. The caller types the guest's name to confirm (the workflow
 * checks it against Proxmox too); its backup schedule is removed first, so no backup runs
 * against a guest on its way out.
 */
export async function destroyGuest(ctx: ServiceContext, id: string, confirmName: string): Promise<StartedRun> {
  const g = await requireGuest(ctx, id);
  if (confirmName !== g.name) throw invalid('confirmName', `type the guest's name ("${g.name}") to destroy it`);
  const input: Omit<VmDestroyInput, 'tenantId' | 'actor'> = { ...targetOf(g, 'destroy'), confirmName };
  if (g.backupPolicy) await removeBackupSchedule(ctx, g);
  return startGuestRun(ctx, g, 'vm.destroy', WorkflowType.vmDestroy, WorkflowId.guestDestroy(g.id), { ...input });
}

/** Creates or updates the guest's backup schedule (a Temporal Schedule starting `vmBackup`). */
export async function setBackupSchedule(
  ctx: ServiceContext,
  id: string,
  options: { cron: string; keep: number; storage?: string; mode?: 'snapshot' | 'suspend' | 'stop' },
): Promise<{ scheduleId: string; created: boolean; backupSchedule: NonNullable<ReturnType<typeof presentGuest>['backupSchedule']> }> {
  const g = await requireGuest(ctx, id);
  const target = targetOf(g, 'back up');
  const { tenantId, actor } = ctx.principal;
  const resources = [resourceRef('guest', g.id), resourceRef('cluster', g.clusterId)];
  let result: { scheduleId: string; created: boolean };
  try {
    result = await upsertVmBackupSchedule(ctx.deps.temporal, {
      vmId: g.id,
      taskQueue: ctx.deps.config.coreTaskQueue,
      spec: { cronExpressions: [options.cron] },
      input: { tenantId, actor, clusterId: target.clusterId, node: target.node, vmid: target.vmid, kind: target.kind, keep: options.keep, storage: options.storage, mode: options.mode },
      // The runs it starts carry the tenant like every other run, so they list and open as the organization's.
      searchAttributes: { [SearchAttribute.tenant]: [tenantId], [SearchAttribute.operation]: ['vm.backup'], [SearchAttribute.resources]: resources, [SearchAttribute.actor]: [actor] },
    });
  } catch (err) {
    // INVALID_ARGUMENT: Temporal could not read the cron expression.
    if ((err as { code?: number }).code === 3) throw invalid('cron', (err as Error).message);
    throw err;
  }
  const policy: GuestBackupPolicy = { scheduleId: result.scheduleId, cron: options.cron, keep: options.keep, storage: options.storage, mode: options.mode };
  await ctx.deps.db.transaction(async (tx) => {
    await tx.update(guests).set({ backupPolicy: policy, updatedAt: sql`now()` }).where(and(eq(guests.tenantId, tenantId), eq(guests.id, g.id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'vm.backup_schedule.set', resourceType: 'guest', resourceId: g.id, details: { ...options, scheduleId: result.scheduleId } });
  });
  return { ...result, backupSchedule: { cron: policy.cron, keep: policy.keep, storage: policy.storage ?? null, mode: policy.mode ?? null } };
}

async function removeBackupSchedule(ctx: ServiceContext, g: GuestRow): Promise<void> {
  await deleteVmBackupSchedule(ctx.deps.temporal, g.id);
  await ctx.deps.db.transaction(async (tx) => {
    await tx.update(guests).set({ backupPolicy: null, updatedAt: sql`now()` }).where(and(eq(guests.tenantId, ctx.principal.tenantId), eq(guests.id, g.id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'vm.backup_schedule.delete', resourceType: 'guest', resourceId: g.id, details: { scheduleId: vmBackupScheduleId(g.id) } });
  });
}

export async function deleteBackupSchedule(ctx: ServiceContext, id: string): Promise<void> {
  await removeBackupSchedule(ctx, await requireGuest(ctx, id));
}
