import { serverError } from '../http/errors';
import { nodeSpec, vmidSpec } from '../params/schema';
import { parseUpid } from '../tasks';
import type { TaskRecord } from '../state/model';
import { PVE_VERSION } from './cluster';
import { nodeUsage } from './metrics';
import { Paged, type Route } from './router';

const sysAudit = (params: { node?: unknown }) => ({ path: `/nodes/${String(params.node)}`, privilege: 'Sys.Audit' });
const upidSpec = { type: 'string', maxLength: 256 } as const;

function taskListEntry(task: TaskRecord) {
  const { upid, node, pid, pstart, starttime, type, id, user } = task;
  return {
    upid,
    node,
    pid,
    pstart,
    starttime,
    type,
    id,
    user,
    ...(task.status === 'stopped' ? { status: task.exitstatus, endtime: task.endtime } : {}),
  };
}

export const nodeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes',
    params: {},
    handler({ cluster }) {
      return cluster.state.nodes.map((node) => {
        const base = { node: node.name, id: `node/${node.name}`, type: 'node', status: node.online ? 'online' : 'offline' };
        if (!node.online) return base;
        return { ...base, level: '', ...nodeUsage(cluster, node), ssl_fingerprint: cluster.fingerprint };
      });
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/status',
    params: { node: nodeSpec },
    permission: sysAudit,
    handler({ params, cluster }) {
      const node = cluster.node(String(params.node));
      const usage = nodeUsage(cluster, node);
      return {
        uptime: usage.uptime,
        cpu: usage.cpu,
        wait: 0.0004,
        idle: 0,
        loadavg: ['0.12', '0.18', '0.21'],
        cpuinfo: { cpus: node.cpus, sockets: 1, cores: node.cpus, model: 'Simulated CPU @ 3.00GHz', mhz: '3000.000', hvm: '1', flags: 'fpu vme de pse tsc msr pae mce cx8 apic' },
        memory: { total: usage.maxmem, used: usage.mem, free: usage.maxmem - usage.mem },
        swap: { total: 8 * 1024 ** 3, used: 0, free: 8 * 1024 ** 3 },
        rootfs: { total: usage.maxdisk, used: usage.disk, free: usage.maxdisk - usage.disk, avail: usage.maxdisk - usage.disk },
        ksm: { shared: 0 },
        kversion: 'Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4',
        pveversion: `pve-manager/${PVE_VERSION.version}/${PVE_VERSION.repoid}`,
        'current-kernel': { sysname: 'Linux', release: '6.8.12-4-pve', version: '#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4', machine: 'x86_64' },
        'boot-info': { mode: 'efi', secureboot: 0 },
      };
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks',
    params: {
      node: nodeSpec,
      start: { type: 'integer', minimum: 0, optional: true },
      limit: { type: 'integer', minimum: 0, optional: true },
      vmid: { ...vmidSpec, optional: true },
      typefilter: { type: 'string', optional: true },
      userfilter: { type: 'string', optional: true },
      statusfilter: { type: 'string', optional: true },
      errors: { type: 'boolean', optional: true },
      source: { type: 'string', optional: true, enum: ['archive', 'active', 'all'] },
      since: { type: 'integer', optional: true },
      until: { type: 'integer', optional: true },
    },
    permission: sysAudit,
    handler({ params, cluster }) {
      const source = params.source ?? 'archive';
      const tasks = cluster.state.tasks
        .filter((task) => task.node === params.node)
        .filter((task) => (source === 'active' ? task.status === 'running' : source === 'archive' ? task.status === 'stopped' : true))
        .filter((task) => params.vmid === undefined || task.id === String(params.vmid))
        .filter((task) => params.typefilter === undefined || task.type === params.typefilter)
        .filter((task) => params.userfilter === undefined || task.user.includes(String(params.userfilter)))
        .filter((task) => params.errors !== 1 || (task.status === 'stopped' && task.exitstatus !== 'OK'))
        .filter((task) => params.since === undefined || task.starttime >= Number(params.since))
        .filter((task) => params.until === undefined || task.starttime <= Number(params.until))
        .sort((a, b) => b.starttime - a.starttime || b.pid - a.pid);
      const start = Number(params.start ?? 0);
      const limit = Number(params.limit ?? 50);
      return new Paged(tasks.slice(start, start + limit).map(taskListEntry), tasks.length);
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks/{upid}/status',
    params: { node: nodeSpec, upid: upidSpec },
    permission: sysAudit,
    handler({ params, tasks }) {
      const task = findTask(tasks.find(String(params.upid)), String(params.upid), String(params.node));
      const { upid, node, pid, pstart, starttime, type, id, user } = task;
      return {
        upid,
        node,
        pid,
        pstart,
        starttime,
        type,
        id,
        user,
        ...(user.includes('!') ? { tokenid: user.split('!')[1] } : {}),
        status: task.status,
        ...(task.status === 'stopped' ? { exitstatus: task.exitstatus } : {}),
      };
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks/{upid}/log',
    params: {
      node: nodeSpec,
      upid: upidSpec,
      start: { type: 'integer', minimum: 0, optional: true },
      limit: { type: 'integer', minimum: 0, optional: true },
      download: { type: 'boolean', optional: true },
    },
    permission: sysAudit,
    handler({ params, tasks }) {
      const task = findTask(tasks.find(String(params.upid)), String(params.upid), String(params.node));
      const start = Number(params.start ?? 0);
      const limit = Number(params.limit ?? 50);
      const lines = task.log.slice(start, start + limit).map((t, index) => ({ n: start + index + 1, t }));
      return new Paged(lines, task.log.length);
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/tasks/{upid}',
    params: { node: nodeSpec, upid: upidSpec },
    permission: (params) => ({ path: `/nodes/${String(params.node)}`, privilege: 'Sys.Modify' }),
    handler({ params, tasks }) {
      const task = findTask(tasks.find(String(params.upid)), String(params.upid), String(params.node));
      tasks.stop(task.upid);
      return null;
    },
  },
];

function findTask(task: TaskRecord | undefined, upid: string, node: string): TaskRecord {
  const parsed = parseUpid(upid);
  if (!parsed) throw serverError(`unable to parse worker upid '${upid}'`);
  if (parsed.node !== node) throw serverError(`no such task`);
  if (!task) throw serverError(`no such task`);
  return task;
}
