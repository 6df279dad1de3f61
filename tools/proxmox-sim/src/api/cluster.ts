import { paramError } from '../http/errors';
import { vmidSpec } from '../params/schema';
import type { Route } from './router';
import { guestUsage, nodeUsage, storageUsed } from './metrics';

/** What `GET /version` reports: a current PVE 8 release. */
export const PVE_VERSION = { version: '8.3.2', release: '8.3', repoid: '3e76eec21c4a14a7' };

export const clusterRoutes: Route[] = [
  {
    method: 'GET',
    path: '/version',
    params: {},
    handler: () => ({ ...PVE_VERSION, console: 'xtermjs' }),
  },
  {
    method: 'GET',
    path: '/cluster/nextid',
    params: { vmid: { ...vmidSpec, optional: true } },
    handler({ params, cluster }) {
      if (params.vmid === undefined) return cluster.nextFreeVmid();
      const vmid = Number(params.vmid);
      if (cluster.findGuest(vmid)) throw paramError({ vmid: `VM ${vmid} already exists` });
      // PVE echoes the parameter it was given: a string.
      return String(vmid);
    },
  },
  {
    method: 'GET',
    path: '/cluster/resources',
    params: { type: { type: 'string', optional: true, enum: ['vm', 'storage', 'node', 'sdn'] } },
    handler({ params, cluster }) {
      const type = params.type;
      const items: unknown[] = [];
      if (type === undefined || type === 'node') {
        for (const node of cluster.state.nodes) {
          const base = { id: `node/${node.name}`, type: 'node', node: node.name, status: node.online ? 'online' : 'offline', level: '' };
          items.push(node.online ? { ...base, ...nodeUsage(cluster, node) } : base);
        }
      }
      if (type === undefined || type === 'vm') {
        for (const guest of cluster.state.guests) {
          const node = cluster.node(guest.node);
          const usage = guestUsage(cluster, guest);
          items.push({
            id: `${guest.type}/${guest.vmid}`,
            type: guest.type,
            node: guest.node,
            ...usage,
            maxcpu: usage.cpus,
            template: guest.config.template === 1 ? 1 : 0,
            // An offline node's guests keep their last known config but report unknown status.
            status: node.online ? usage.status : 'unknown',
          });
        }
      }
      if (type === undefined || type === 'storage') {
        for (const node of cluster.state.nodes) {
          for (const storage of cluster.state.storages) {
            items.push({
              id: `storage/${node.name}/${storage.storage}`,
              type: 'storage',
              node: node.name,
              storage: storage.storage,
              plugintype: storage.type,
              content: storage.content.join(','),
              shared: storage.shared ? 1 : 0,
              status: node.online ? 'available' : 'unknown',
              disk: storageUsed(cluster, storage, node.name),
              maxdisk: storage.totalBytes,
            });
          }
        }
      }
      return items;
    },
  },
  {
    method: 'GET',
    path: '/cluster/status',
    params: {},
    handler({ cluster }) {
      const nodes = cluster.state.nodes;
      return [
        { type: 'cluster', id: 'cluster', name: cluster.state.clusterName, nodes: nodes.length, quorate: 1, version: nodes.length },
        ...nodes.map((node, index) => ({
          type: 'node',
          id: `node/${node.name}`,
          name: node.name,
          nodeid: index + 1,
          online: node.online ? 1 : 0,
          local: index === 0 ? 1 : 0,
          ip: `127.0.0.${index + 1}`,
          level: '',
        })),
      ];
    },
  },
  {
    method: 'GET',
    path: '/pools',
    params: { poolid: { type: 'string', optional: true }, type: { type: 'string', optional: true, enum: ['qemu', 'lxc', 'storage'] } },
    handler: () => [],
  },
];
