import { taskUser } from '../auth';
import { serverError } from '../http/errors';
import type { GuestRecord } from '../state/model';
import { configLockPath, TaskFailure, type TaskContext } from '../tasks';
import type { RouteContext } from './router';

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';

/** Realistic durations (ms, before time scaling) per guest type and action. */
const DURATIONS: Record<GuestRecord['type'], Record<PowerAction, number>> = {
  qemu: { start: 1200, stop: 800, shutdown: 3000, reboot: 4000 },
  lxc: { start: 1000, stop: 600, shutdown: 2000, reboot: 3000 },
};

const TASK_TYPES: Record<GuestRecord['type'], Record<PowerAction, string>> = {
  qemu: { start: 'qmstart', stop: 'qmstop', shutdown: 'qmshutdown', reboot: 'qmreboot' },
  lxc: { start: 'vzstart', stop: 'vzstop', shutdown: 'vzshutdown', reboot: 'vzreboot' },
};

const label = (guest: GuestRecord) => `${guest.type === 'qemu' ? 'VM' : 'CT'} ${guest.vmid}`;

/** Boots the guest's machine through the backend and marks it running. */
export async function bootGuest(context: Pick<RouteContext, 'cluster'>, guest: GuestRecord, task: TaskContext): Promise<void> {
  const { cluster } = context;
  if (guest.type === 'qemu' && cluster.disks(guest).some((disk) => disk.volid.includes('cloudinit'))) {
    task.log('generating cloud-init ISO');
  }
  await cluster.backend.start(cluster.guestSpec(guest));
  guest.status = 'running';
  guest.startedAt = Date.now();
  cluster.save();
}

export async function haltGuest(context: Pick<RouteContext, 'cluster'>, guest: GuestRecord): Promise<void> {
  await context.cluster.backend.stop(guest.vmid);
  guest.status = 'stopped';
  delete guest.startedAt;
  context.cluster.save();
}

/**
 * A power task (`qmstart`, `vzshutdown`…). As in PVE, the API call only checks that the guest
 * exists; locks and "already running" / "not running" are checked by the task, which fails with
 * the message as its exit status. Reboot is the exception: qemu-server's and pve-container's
 * `vm_reboot` refuse a stopped guest before forking the task (a synchronous 500).
 */
export function startPowerTask(context: RouteContext, guest: GuestRecord, action: PowerAction, options: { skiplock?: boolean } = {}): string {
  const { cluster, tasks, identity } = context;
  if (action === 'reboot' && guest.status !== 'running') throw serverError(`VM ${guest.vmid} not running`);
  const duration = DURATIONS[guest.type][action];
  return tasks.start({
    node: guest.node,
    type: TASK_TYPES[guest.type][action],
    id: String(guest.vmid),
    user: taskUser(identity),
    durationMs: duration,
    vmids: [guest.vmid],
    lockPath: configLockPath(guest.type, guest.vmid),
    async run(task) {
      const current = cluster.findGuest(guest.vmid);
      if (!current) throw new TaskFailure(`Configuration file for ${label(guest)} does not exist`);
      if (!options.skiplock) cluster.checkLock(current);
      if (action === 'start' && current.config.template === 1) throw new TaskFailure(`you can't start a vm if it's a template`);
      const running = current.status === 'running';
      switch (action) {
        case 'start':
          if (running) throw new TaskFailure(`${label(current)} already running`);
          await task.step(duration * 0.6);
          await bootGuest(context, current, task);
          await task.step(duration * 0.4);
          break;
        case 'stop':
          if (!running) {
            task.log(`${label(current)} not running`);
            return;
          }
          await task.step(duration);
          await haltGuest(context, current);
          break;
        case 'shutdown':
          if (!running) throw new TaskFailure(`${label(current)} not running`);
          task.log(`Requesting shutdown of ${label(current)}`);
          await task.step(duration);
          await haltGuest(context, current);
          break;
        case 'reboot':
          if (!running) throw new TaskFailure(`${label(current)} not running`);
          task.log(`Requesting reboot of ${label(current)}`);
          await task.step(duration * 0.5);
          await haltGuest(context, current);
          await task.step(duration * 0.2);
          await bootGuest(context, current, task);
          await task.step(duration * 0.3);
          break;
      }
    },
  }).upid;
}
