import { taskUser } from '../auth';
import { serverError } from '../http/errors';
import { splitList, storageId, vmidList } from '../params/formats';
import { nodeSpec, optionalBoolean } from '../params/schema';
import type { GuestRecord, VolumeRecord } from '../state/model';
import { configLockPath, TaskFailure } from '../tasks';
import type { Route } from './router';

const BACKUP_MS = 5000;

/** One guest's backup failed; the job goes on with the others. */
class GuestBackupError extends Error {}

/** File extension per `compress` value, as vzdump names its archives. */
const COMPRESSION: Record<string, string> = { '0': '', '1': '.lzo', lzo: '.lzo', gzip: '.gz', zstd: '.zst' };

/** `2024_05_01-10_00_00`, the timestamp in vzdump's archive names. */
function archiveStamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}_${pad(date.getUTCMonth() + 1)}_${pad(date.getUTCDate())}-${pad(date.getUTCHours())}_${pad(date.getUTCMinutes())}_${pad(date.getUTCSeconds())}`;
}

export const vzdumpRoutes: Route[] = [
  {
    method: 'POST',
    path: '/nodes/{node}/vzdump',
    params: {
      node: nodeSpec,
      vmid: { type: 'string', optional: true, format: vmidList, list: true },
      all: optionalBoolean,
      storage: { type: 'string', optional: true, format: storageId },
      mode: { type: 'string', optional: true, enum: ['snapshot', 'suspend', 'stop'] },
      compress: { type: 'string', optional: true, enum: ['0', '1', 'gzip', 'lzo', 'zstd'] },
      remove: optionalBoolean,
      'notes-template': { type: 'string', optional: true, maxLength: 1024 },
      protected: optionalBoolean,
      mailto: { type: 'string', optional: true },
      mailnotification: { type: 'string', optional: true, enum: ['always', 'failure'] },
      'notification-mode': { type: 'string', optional: true },
      bwlimit: { type: 'integer', optional: true, minimum: 0 },
      zstd: { type: 'integer', optional: true, minimum: 0 },
      quiet: optionalBoolean,
    },
    permission: (params) => ({ path: params.vmid ? `/vms/${splitList(String(params.vmid))[0]}` : '/', privilege: 'VM.Backup' }),
    handler({ params, cluster, tasks, identity }) {
      const node = String(params.node);
      const ids = params.all === 1 ? cluster.state.guests.filter((guest) => guest.node === node).map((guest) => guest.vmid) : splitList(String(params.vmid ?? '')).map(Number);
      if (ids.length === 0) throw serverError('no source VM specified');
      const guests: GuestRecord[] = ids.map((vmid) => {
        const guest = cluster.findGuest(vmid);
        if (!guest || guest.node !== node) throw serverError(`unable to find VM '${vmid}'`);
        return guest;
      });
      const storage = cluster.storage(String(params.storage ?? 'local'));
      if (!storage.content.includes('backup')) throw serverError(`storage '${storage.storage}' does not support backups`);
      const compress = String(params.compress ?? '0');
      const mode = String(params.mode ?? 'snapshot');
      const duration = BACKUP_MS * guests.length;

      return tasks.start({
        node,
        type: 'vzdump',
        id: guests.length === 1 ? String(guests[0]!.vmid) : '',
        user: taskUser(identity),
        durationMs: duration,
        vmids: guests.map((guest) => guest.vmid),
        lockPath: guests.length === 1 ? configLockPath(guests[0]!.type, guests[0]!.vmid) : undefined,
        async run(task) {
          let failed = 0;
          for (const guest of guests) {
            const label = guest.type === 'qemu' ? 'qemu' : 'lxc';
            const archiveExt = guest.type === 'qemu' ? '.vma' : '.tar';
            const started = new Date();
            const volid = `${storage.storage}:backup/vzdump-${label}-${guest.vmid}-${archiveStamp(started)}${archiveExt}${COMPRESSION[compress] ?? ''}`;
            task.log(`INFO: Starting Backup of VM ${guest.vmid} (${label})`);
            task.log(`INFO: Backup started at ${started.toISOString().replace('T', ' ').slice(0, 19)}`);
            task.log(`INFO: Backup mode: ${mode}`);
            try {
              if (guest.config.lock !== undefined) throw new GuestBackupError(`${guest.type === 'qemu' ? 'VM' : 'CT'} is locked (${guest.config.lock})`);
              cluster.setLock(guest, 'backup');
              try {
                task.log(`INFO: creating vzdump archive '/var/lib/vz/dump/${volid.split('/').pop()}'`);
                await task.step(BACKUP_MS);
              } finally {
                cluster.releaseLock(guest.vmid);
              }
              const size = Math.max(1, cluster.disks(guest).filter((disk) => !disk.cdrom).reduce((sum, disk) => sum + disk.size, 0) / 8);
              const volume: VolumeRecord = {
                volid,
                storage: storage.storage,
                node: storage.shared ? null : node,
                content: 'backup',
                format: `${archiveExt.slice(1)}${COMPRESSION[compress] ?? ''}`,
                size: Math.round(size),
                ctime: Math.floor(started.getTime() / 1000),
                vmid: guest.vmid,
                subtype: guest.type,
                ...(params['notes-template'] !== undefined ? { notes: String(params['notes-template']).replace(/\{\{vmid\}\}/g, String(guest.vmid)).replace(/\{\{guestname\}\}/g, String(guest.config.name ?? guest.config.hostname ?? '')) } : {}),
              };
              cluster.state.volumes.push(volume);
              cluster.save();
              task.log(`INFO: Finished Backup of VM ${guest.vmid}`);
            } catch (error) {
              // A failed guest does not stop the job; the task fails at the end, as vzdump does.
              if (!(error instanceof GuestBackupError)) throw error;
              failed++;
              task.log(`ERROR: Backup of VM ${guest.vmid} failed - ${error.message}`);
            }
          }
          if (failed > 0) throw new TaskFailure(`job errors`);
        },
      }).upid;
    },
  },
];
