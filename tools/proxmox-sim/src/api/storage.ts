import { serverError } from '../http/errors';
import { storageId } from '../params/formats';
import { nodeSpec, vmidSpec } from '../params/schema';
import { taskUser } from '../auth';
import type { Cluster } from '../cluster';
import type { VolumeRecord } from '../state/model';
import { storageUsed } from './metrics';
import type { Route } from './router';

const storageSpec = { type: 'string', format: storageId } as const;
const CONTENT_TYPES = ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import'] as const;

function visibleVolumes(cluster: Cluster, node: string, storage: string): VolumeRecord[] {
  return cluster.state.volumes.filter((volume) => volume.storage === storage && (volume.node === null || volume.node === node));
}

/** Guest disks on a storage (as `images` / `rootdir` content) — derived from configs. */
function diskContent(cluster: Cluster, node: string, storage: string) {
  const shared = cluster.storage(storage).shared;
  return cluster.state.guests
    .filter((guest) => shared || guest.node === node)
    .flatMap((guest) =>
      cluster
        .disks(guest)
        .filter((disk) => disk.storage === storage && !disk.cdrom)
        .map((disk) => ({
          volid: disk.volid,
          content: guest.type === 'qemu' ? 'images' : 'rootdir',
          format: disk.volid.endsWith('.qcow2') ? 'qcow2' : 'raw',
          size: disk.size,
          used: guest.type === 'qemu' ? 0 : Math.round(disk.size * 0.2),
          vmid: guest.vmid,
        })),
    );
}

export const storageRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/storage',
    params: {
      node: nodeSpec,
      content: { type: 'string', optional: true, list: true },
      enabled: { type: 'boolean', optional: true },
      format: { type: 'boolean', optional: true },
      storage: { ...storageSpec, optional: true },
      target: { type: 'string', optional: true },
    },
    handler({ params, cluster }) {
      const node = String(params.node);
      const wanted = params.content === undefined ? undefined : String(params.content).split(',');
      return cluster.state.storages
        .filter((storage) => params.storage === undefined || storage.storage === params.storage)
        .filter((storage) => !wanted || wanted.some((content) => storage.content.includes(content)))
        .map((storage) => {
          const used = storageUsed(cluster, storage, node);
          return {
            storage: storage.storage,
            type: storage.type,
            content: storage.content.join(','),
            active: 1,
            enabled: 1,
            shared: storage.shared ? 1 : 0,
            total: storage.totalBytes,
            used,
            avail: storage.totalBytes - used,
            used_fraction: used / storage.totalBytes,
          };
        });
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/status',
    params: { node: nodeSpec, storage: storageSpec },
    permission: (params) => ({ path: `/storage/${String(params.storage)}`, privilege: 'Datastore.Audit' }),
    handler({ params, cluster }) {
      const storage = cluster.storage(String(params.storage));
      const used = storageUsed(cluster, storage, String(params.node));
      return {
        type: storage.type,
        content: storage.content.join(','),
        active: 1,
        enabled: 1,
        shared: storage.shared ? 1 : 0,
        total: storage.totalBytes,
        used,
        avail: storage.totalBytes - used,
      };
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/content',
    params: {
      node: nodeSpec,
      storage: storageSpec,
      content: { type: 'string', optional: true, enum: CONTENT_TYPES },
      vmid: { ...vmidSpec, optional: true },
    },
    permission: (params) => ({ path: `/storage/${String(params.storage)}`, privilege: 'Datastore.Audit' }),
    handler({ params, cluster }) {
      const node = String(params.node);
      const storage = cluster.storage(String(params.storage));
      const files = visibleVolumes(cluster, node, storage.storage).map((volume) => ({
        volid: volume.volid,
        content: volume.content,
        format: volume.format,
        size: volume.size,
        ctime: volume.ctime,
        ...(volume.vmid !== undefined ? { vmid: volume.vmid } : {}),
        ...(volume.subtype ? { subtype: volume.subtype } : {}),
        ...(volume.notes ? { notes: volume.notes } : {}),
      }));
      return [...files, ...diskContent(cluster, node, storage.storage)]
        .filter((item) => params.content === undefined || item.content === params.content)
        .filter((item) => params.vmid === undefined || ('vmid' in item && item.vmid === params.vmid))
        .sort((a, b) => a.volid.localeCompare(b.volid));
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/storage/{storage}/content/{volume}',
    params: { node: nodeSpec, storage: { ...storageSpec, optional: true }, volume: { type: 'string' }, delay: { type: 'integer', optional: true, minimum: 1, maximum: 30 } },
    permission: (params) => ({ path: `/storage/${String(params.storage)}`, privilege: 'Datastore.Allocate' }),
    handler({ params, cluster, tasks, identity }) {
      const node = String(params.node);
      const volume = String(params.volume);
      const volid = volume.includes(':') ? volume : `${String(params.storage)}:${volume}`;
      const used = cluster.state.guests.find((guest) => cluster.disks(guest).some((disk) => disk.volid === volid));
      if (used) throw serverError(`unable to delete '${volid}' - volume is still in use (guest ${used.vmid})`);
      const record = cluster.state.volumes.find((candidate) => candidate.volid === volid && (candidate.node === null || candidate.node === node));
      if (!record) throw serverError(`volume '${volid}' does not exist`);
      return tasks.start({
        node,
        type: 'imgdel',
        id: '',
        user: taskUser(identity),
        durationMs: 300,
        vmids: record.vmid !== undefined ? [record.vmid] : [],
        async run(ctx) {
          await ctx.step(300);
          cluster.state.volumes = cluster.state.volumes.filter((candidate) => candidate !== record);
          cluster.save();
          ctx.log(`Removed volume '${volid}'`);
        },
      }).upid;
    },
  },
];
