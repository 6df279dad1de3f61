import { taskUser } from '../auth';
import { paramError, serverError } from '../http/errors';
import { configId } from '../params/formats';
import { nodeSpec, optionalBoolean, vmidSpec, type Params } from '../params/schema';
import type { GuestRecord, GuestType } from '../state/model';
import { configLockPath, TaskFailure } from '../tasks';
import { bootGuest, haltGuest } from './power';
import type { Route, RouteContext } from './router';

const DURATIONS = { create: 1500, rollback: 2000, delete: 1000 };

/** Snapshot routes for `qemu` or `lxc`: list, create, rollback, delete, and a snapshot's config. */
export function snapshotRoutes(type: GuestType): Route[] {
  const base = `/nodes/{node}/${type}/{vmid}/snapshot`;
  const vmPath = (params: Params) => `/vms/${String(params.vmid)}`;
  const guestOf = (context: RouteContext): GuestRecord => context.cluster.guest(String(context.params.node), Number(context.params.vmid), type);
  const snapname = { type: 'string', format: configId, maxLength: 40 } as const;
  const taskTypes = type === 'qemu' ? { create: 'qmsnapshot', rollback: 'qmrollback', delete: 'qmdelsnapshot' } : { create: 'vzsnapshot', rollback: 'vzrollback', delete: 'vzdelsnapshot' };

  /**
   * A rollback or delete of a snapshot the guest does not have: PVE checks for the snapshot inside
   * the worker (`snapshot_rollback` / `snapshot_delete`), so the call returns a task that fails with
   * `snapshot '<name>' does not exist`, taking no lock.
   */
  function missingSnapshotTask(context: RouteContext, guest: GuestRecord, kind: 'rollback' | 'delete', name: string): string {
    return context.tasks.start({
      node: guest.node,
      type: taskTypes[kind],
      id: String(guest.vmid),
      user: taskUser(context.identity),
      durationMs: 100,
      vmids: [guest.vmid],
      lockPath: configLockPath(type, guest.vmid),
      async run(task) {
        await task.step(100);
        throw new TaskFailure(`snapshot '${name}' does not exist`);
      },
    }).upid;
  }

  /** Runs a snapshot operation as a task, holding a config lock (`snapshot`, `rollback`…) meanwhile. */
  function snapshotTask(context: RouteContext, guest: GuestRecord, kind: keyof typeof DURATIONS, lock: string, body: (step: (ms: number) => Promise<void>, log: (line: string) => void) => Promise<void>): string {
    context.cluster.checkLock(guest);
    context.cluster.setLock(guest, lock);
    return context.tasks.start({
      node: guest.node,
      type: taskTypes[kind],
      id: String(guest.vmid),
      user: taskUser(context.identity),
      durationMs: DURATIONS[kind],
      vmids: [guest.vmid],
      lockPath: configLockPath(type, guest.vmid),
      locks: [guest.vmid],
      run: (task) => body((ms) => task.step(ms), (line) => task.log(line)),
    }).upid;
  }

  return [
    {
      method: 'GET',
      path: base,
      params: { node: nodeSpec, vmid: vmidSpec },
      permission: (params) => ({ path: vmPath(params), privilege: 'VM.Audit' }),
      handler(context) {
        const guest = guestOf(context);
        return [
          ...guest.snapshots.map((snapshot) => ({
            name: snapshot.name,
            description: snapshot.description,
            snaptime: snapshot.snaptime,
            ...(snapshot.parent ? { parent: snapshot.parent } : {}),
            ...(type === 'qemu' ? { vmstate: snapshot.vmstate ? 1 : 0 } : {}),
          })),
          { name: 'current', description: 'You are here!', digest: '', running: guest.status === 'running' ? 1 : 0, ...(guest.parent ? { parent: guest.parent } : {}) },
        ];
      },
    },
    {
      method: 'POST',
      path: base,
      params: { node: nodeSpec, vmid: vmidSpec, snapname, description: { type: 'string', optional: true }, ...(type === 'qemu' ? { vmstate: optionalBoolean } : {}) },
      permission: (params) => ({ path: vmPath(params), privilege: 'VM.Snapshot' }),
      handler(context) {
        const guest = guestOf(context);
        const name = String(context.params.snapname);
        if (name === 'current') throw paramError({ snapname: "invalid snapshot name 'current'" });
        if (guest.snapshots.some((snapshot) => snapshot.name === name)) throw serverError(`snapshot name '${name}' already used`);
        return snapshotTask(context, guest, 'create', 'snapshot', async (step, log) => {
          log(`snapshotting '${type === 'qemu' ? 'drive-scsi0' : 'rootfs'}' (${context.cluster.disks(guest)[0]?.volid ?? 'none'})`);
          await step(DURATIONS.create);
          const config = { ...guest.config };
          delete config.lock;
          delete config.parent;
          guest.snapshots.push({
            name,
            description: String(context.params.description ?? ''),
            snaptime: Math.floor(Date.now() / 1000),
            vmstate: context.params.vmstate === 1,
            config,
            ...(guest.parent ? { parent: guest.parent } : {}),
          });
          guest.parent = name;
          guest.config.parent = name;
          context.cluster.save();
        });
      },
    },
    {
      method: 'GET',
      path: `${base}/{snapname}/config`,
      params: { node: nodeSpec, vmid: vmidSpec, snapname },
      permission: (params) => ({ path: vmPath(params), privilege: 'VM.Audit' }),
      handler(context) {
        const snapshot = guestOf(context).snapshots.find((candidate) => candidate.name === context.params.snapname);
        if (!snapshot) throw serverError(`snapshot '${String(context.params.snapname)}' does not exist`);
        return snapshot.config;
      },
    },
    {
      method: 'POST',
      path: `${base}/{snapname}/rollback`,
      params: { node: nodeSpec, vmid: vmidSpec, snapname, start: optionalBoolean },
      permission: (params) => ({ path: vmPath(params), privilege: 'VM.Snapshot.Rollback' }),
      handler(context) {
        const guest = guestOf(context);
        const name = String(context.params.snapname);
        const snapshot = guest.snapshots.find((candidate) => candidate.name === name);
        if (!snapshot) return missingSnapshotTask(context, guest, 'rollback', name);
        return snapshotTask(context, guest, 'rollback', 'rollback', async (step, log) => {
          if (guest.status === 'running') await haltGuest(context, guest);
          await step(DURATIONS.rollback * 0.8);
          log(`  Logical volume "snap_${name}" restored.`);
          guest.config = { ...snapshot.config, parent: name, lock: 'rollback' };
          guest.parent = name;
          context.cluster.save();
          if (context.params.start === 1) {
            await bootGuest(context, guest, { upid: '', log, warn: log, step });
          }
          await step(DURATIONS.rollback * 0.2);
        });
      },
    },
    {
      method: 'DELETE',
      path: `${base}/{snapname}`,
      params: { node: nodeSpec, vmid: vmidSpec, snapname, force: optionalBoolean },
      permission: (params) => ({ path: vmPath(params), privilege: 'VM.Snapshot' }),
      handler(context) {
        const guest = guestOf(context);
        const name = String(context.params.snapname);
        const snapshot = guest.snapshots.find((candidate) => candidate.name === name);
        if (!snapshot) return missingSnapshotTask(context, guest, 'delete', name);
        return snapshotTask(context, guest, 'delete', 'snapshot-delete', async (step) => {
          await step(DURATIONS.delete);
          if (!guest.snapshots.includes(snapshot)) throw new TaskFailure(`snapshot '${name}' does not exist`);
          // Children of the removed snapshot now descend from its parent, as in PVE.
          for (const other of guest.snapshots) if (other.parent === name) other.parent = snapshot.parent;
          guest.snapshots = guest.snapshots.filter((candidate) => candidate !== snapshot);
          if (guest.parent === name) {
            if (snapshot.parent) guest.parent = snapshot.parent;
            else delete guest.parent;
            if (guest.parent) guest.config.parent = guest.parent;
            else delete guest.config.parent;
          }
          context.cluster.save();
        });
      },
    },
  ];
}
