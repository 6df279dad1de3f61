import type { Cluster } from '../cluster';
import { serverError } from '../http/errors';
import { guestLoad, guestMemory, nodeLoad, procMeminfo } from '../load';
import { parsePropertyString } from '../params/formats';
import { nodeSpec, vmidSpec } from '../params/schema';
import type { GuestRecord, NodeRecord } from '../state/model';
import { guestCpus, guestMaxMem } from './metrics';
import type { Route, RouteContext } from './router';

/**
 * Proxmox's round-robin archives as `GET …/rrddata?timeframe=…&cf=…` serves them (PVE 8 keys):
 * about 70 points a step apart, aligned to the step, each the average (or maximum) of that step;
 * a point without data carries only `time`. Values come from the load model (`../load.ts`), so
 * they change with time and follow what the control API sets.
 */

/** Seconds per point for each timeframe, as pvestatd's RRAs have them. */
export const RRD_STEPS: Record<string, number> = { hour: 60, day: 1800, week: 10800, month: 43200, year: 604800 };
const POINTS = 70;
/** Samples of the load model taken inside each step to average (or take the maximum of). */
const SAMPLES_PER_STEP = 6;

const timeframeSpec = { type: 'string', enum: ['hour', 'day', 'week', 'month', 'year'] } as const;
const cfSpec = { type: 'string', optional: true, enum: ['AVERAGE', 'MAX'] } as const;

type Consolidate = (values: number[]) => number;
const consolidation = (cf: unknown): Consolidate =>
  cf === 'MAX' ? (values) => Math.max(...values) : (values) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** The step-aligned times of the archive's points, oldest first. */
function pointTimes(timeframe: string, now = Date.now()): { step: number; times: number[] } {
  const step = RRD_STEPS[timeframe]!;
  const seconds = Math.floor(now / 1000);
  const last = seconds - (seconds % step);
  return { step, times: Array.from({ length: POINTS }, (_, i) => last - (POINTS - 1 - i) * step) };
}

/**
 * Instants (ms) to sample for the step starting at `time`, none before `from` or after `now`; the
 * step in progress also gets `now` itself, as pvestatd has already fed it the latest values.
 */
function samplesIn(time: number, step: number, now: number, from = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < SAMPLES_PER_STEP; i++) {
    const at = (time + ((i + 0.5) * step) / SAMPLES_PER_STEP) * 1000;
    if (at <= now && at >= from) out.push(at);
  }
  if (now < (time + step) * 1000 && now >= from) out.push(now);
  return out;
}

export function guestRrdData(cluster: Cluster, guest: GuestRecord, timeframe: string, cf?: unknown) {
  const now = Date.now();
  const { step, times } = pointTimes(timeframe, now);
  const combine = consolidation(cf);
  const maxmem = guestMaxMem(guest);
  const maxcpu = guestCpus(guest);
  const maxdisk = cluster.disks(guest).find((disk) => !disk.cdrom)?.size ?? 0;
  const since = guest.status === 'running' && guest.startedAt ? Math.floor(guest.startedAt / 1000) : Infinity;
  return times.map((time) => {
    // A point stands for the step up to the next one: the current step has data once running.
    if (time + step <= since) return { time };
    const loads = samplesIn(time, step, now, guest.startedAt ?? 0).map((at) => guestLoad(cluster, guest, at));
    if (loads.length === 0) return { time };
    const pick = (f: (load: (typeof loads)[number]) => number) => combine(loads.map(f));
    return {
      time,
      cpu: pick((load) => load.cpu),
      maxcpu,
      // As `cluster/resources`: a VM's memory includes its page cache, a container's does not.
      mem: pick((load) => {
        const memory = guestMemory(load, maxmem);
        return guest.type === 'qemu' ? memory.total - memory.free : memory.used;
      }),
      maxmem,
      disk: guest.type === 'lxc' ? Math.round(maxdisk * 0.2) : 0,
      maxdisk,
      netin: pick((load) => load.netin),
      netout: pick((load) => load.netout),
      diskread: pick((load) => load.diskread),
      diskwrite: pick((load) => load.diskwrite),
    };
  });
}

export function nodeRrdData(cluster: Cluster, node: NodeRecord, timeframe: string, cf?: unknown) {
  const now = Date.now();
  const { step, times } = pointTimes(timeframe, now);
  const combine = consolidation(cf);
  const booted = Math.floor(node.bootedAt / 1000);
  return times.map((time) => {
    if (time + step <= booted) return { time };
    const loads = samplesIn(time, step, now, node.bootedAt).map((at) => nodeLoad(cluster, node, guestMaxMem, guestCpus, at));
    if (loads.length === 0) return { time };
    const pick = (f: (load: (typeof loads)[number]) => number) => combine(loads.map(f));
    return {
      time,
      cpu: pick((load) => load.cpu),
      maxcpu: node.cpus,
      iowait: pick((load) => load.iowait),
      loadavg: pick((load) => load.loadavg),
      memtotal: node.memoryBytes,
      memused: pick((load) => load.mem),
      swaptotal: 8 * 1024 ** 3,
      swapused: 0,
      roottotal: node.rootfsBytes,
      rootused: Math.round(node.rootfsBytes * 0.12),
      netin: pick((load) => load.netin),
      netout: pick((load) => load.netout),
    };
  });
}

/** `agent/file-read`: the guest agent reads a file inside the VM. Only `/proc/meminfo` exists here. */
function agentFileRead(context: RouteContext) {
  const guest = context.cluster.guest(String(context.params.node), Number(context.params.vmid), 'qemu');
  if (guest.status !== 'running') throw serverError(`VM ${guest.vmid} is not running`);
  const agent = parsePropertyString(String(guest.config.agent ?? '0'), 'enabled');
  if (agent.get('enabled') !== '1') throw serverError('No QEMU guest agent configured');
  const file = String(context.params.file);
  if (file !== '/proc/meminfo') throw serverError(`Agent error: Failed to open file '${file}': No such file or directory`);
  return { content: procMeminfo(guestMemory(guestLoad(context.cluster, guest), guestMaxMem(guest))) };
}

export const rrdRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/rrddata',
    params: { node: nodeSpec, timeframe: timeframeSpec, cf: cfSpec },
    permission: (params) => ({ path: `/nodes/${String(params.node)}`, privilege: 'Sys.Audit' }),
    handler: ({ cluster, params }) => nodeRrdData(cluster, cluster.node(String(params.node)), String(params.timeframe), params.cf),
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/agent/file-read',
    params: { node: nodeSpec, vmid: vmidSpec, file: { type: 'string', maxLength: 4096 } },
    permission: (params) => ({ path: `/vms/${String(params.vmid)}`, privilege: 'VM.Monitor' }),
    handler: agentFileRead,
  },
];
