import type { Database } from '@keelson/db';
import { guests, monitoredResources, proxmoxClusters } from '@keelson/db/schema';
import { and, eq, ne } from 'drizzle-orm';
import { connectProxmox, type ProxmoxApi } from '../proxmox/client';
import type { ProxmoxClusterDirectory } from '../proxmox/types';
import { whileAlive } from './keep-alive';
import { markUnreachable, storeHistory, storeReadings, type ResourceReading } from './store';

/**
 * Reads one Proxmox cluster through its API: one `GET /cluster/resources` gives every node's and
 * guest's current usage (counters for network and disk I/O); a running VM's memory is corrected
 * for its page cache through the guest agent; resources seen for the first time, or again after a
 * gap, get their missing history from Proxmox's own `rrddata`. A cluster that does not answer is
 * recorded unreachable (`up: 0`) and nothing else is touched: its guests keep their last values,
 * and the evaluator holds their alerts instead of raising one per guest.
 */

interface ClusterResource {
  id: string;
  type: string;
  node?: string;
  vmid?: number;
  name?: string;
  status?: string;
  template?: number;
  tags?: string;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  netin?: number;
  netout?: number;
  diskread?: number;
  diskwrite?: number;
}

interface RrdPoint {
  time: number;
  cpu?: number;
  mem?: number;
  maxmem?: number;
  memused?: number;
  memtotal?: number;
  disk?: number;
  maxdisk?: number;
  rootused?: number;
  roottotal?: number;
  netin?: number;
  netout?: number;
  diskread?: number;
  diskwrite?: number;
}

export interface ProxmoxCollectResult {
  clusterId: string;
  reachable: boolean;
  error?: string;
  nodes: number;
  guests: number;
  /** Samples imported from rrddata for new resources or gaps. */
  backfilled: number;
  /** Where the round's time went (ms): the resource list, the agents' meminfo, the write, the rrddata import. */
  timings?: { resourcesMs: number; agentMs: number; storeMs: number; backfillMs: number };
}

export interface ProxmoxMetricsOptions {
  /** Read each running VM's /proc/meminfo through its agent, to leave the page cache out of "used". Default true. */
  guestMemoryFromAgent?: boolean;
  /** Parallel calls per cluster for the agent and rrddata. Default 8. */
  concurrency?: number;
  /** A resource whose last sample is older than this gets its gap from rrddata. Default 150 s. */
  backfillAfterMs?: number;
}

/** Runs `task` over `items`, `limit` at a time. */
export async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

/** `MemTotal − MemAvailable` and the page cache, from a Linux `/proc/meminfo`. */
export function parseMeminfo(text: string): { total: number; used: number; cache: number } | null {
  const field = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const total = field('MemTotal');
  const available = field('MemAvailable');
  if (total === undefined || available === undefined) return null;
  return { total, used: total - available, cache: (field('Cached') ?? 0) + (field('Buffers') ?? 0) };
}

const pct = (fraction: number | undefined) => (fraction === undefined ? undefined : fraction * 100);
const clean = <T extends Record<string, number | undefined>>(values: T): { [K in keyof T]?: number } => Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && Number.isFinite(v))) as { [K in keyof T]?: number };

export function createProxmoxMetricsActivities(deps: { db: Database; clusters: ProxmoxClusterDirectory; options?: ProxmoxMetricsOptions }) {
  const { db } = deps;
  const options = { guestMemoryFromAgent: true, concurrency: 8, backfillAfterMs: 150_000, ...deps.options };

  async function guestMemory(px: ProxmoxApi, r: ClusterResource, noAgent: boolean): Promise<{ used: number; cache: number } | null> {
    if (!options.guestMemoryFromAgent || noAgent || r.type !== 'qemu' || r.status !== 'running') return null;
    try {
      const answer = (await px.nodes.$(r.node!).qemu.$(r.vmid!).agent['file-read'].$get({ file: '/proc/meminfo' })) as { content?: string };
      const parsed = parseMeminfo(answer.content ?? '');
      return parsed ? { used: parsed.used, cache: parsed.cache } : null;
    } catch {
      return null; // no agent, or it is not running yet: Proxmox's own number stands
    }
  }

  async function collectCluster(input: { clusterId: string }): Promise<ProxmoxCollectResult> {
    const [cluster] = await db
      .select({ id: proxmoxClusters.id, tenantId: proxmoxClusters.tenantId, name: proxmoxClusters.name })
      .from(proxmoxClusters)
      .where(eq(proxmoxClusters.id, input.clusterId));
    if (!cluster) return { clusterId: input.clusterId, reachable: false, error: 'cluster is not recorded', nodes: 0, guests: 0, backfilled: 0 };
    const at = new Date();
    const clusterResource = { tenantId: cluster.tenantId, kind: 'proxmox_cluster' as const, key: cluster.id, name: cluster.name, refId: cluster.id, clusterId: cluster.id };

    let px: ProxmoxApi;
    let resources: ClusterResource[];
    let mark = performance.now();
    const lap = () => {
      const now = performance.now();
      const ms = Math.round(now - mark);
      mark = now;
      return ms;
    };
    try {
      // Only reads: its connections are kept for the round (see PinnedFetchOptions).
      px = connectProxmox(await deps.clusters.connect(cluster.id), { keepAlive: true });
      resources = (await px.cluster.resources.$get()) as ClusterResource[];
    } catch (err) {
      await markUnreachable(db, clusterResource, at);
      return { clusterId: cluster.id, reachable: false, error: (err as Error).message.slice(0, 500), nodes: 0, guests: 0, backfilled: 0 };
    }

    const resourcesMs = lap();
    // Keelson's own guests, to link resources to their records (and their pages).
    const known = await db
      .select({ id: guests.id, vmid: guests.vmid })
      .from(guests)
      .where(and(eq(guests.clusterId, cluster.id), ne(guests.state, 'destroyed')));
    const guestIds = new Map(known.filter((g) => g.vmid !== null).map((g) => [g.vmid!, g.id]));

    const nodeRows = resources.filter((r) => r.type === 'node');
    const guestRows = resources.filter((r) => (r.type === 'qemu' || r.type === 'lxc') && r.template !== 1);
    const offline = new Set(nodeRows.filter((r) => r.status !== 'online').map((r) => r.node));

    // Which VMs had no agent last time (kept on the resource's counters) are asked again now and then.
    const previous = await db
      .select({ key: monitoredResources.key, counters: monitoredResources.counters })
      .from(monitoredResources)
      .where(and(eq(monitoredResources.tenantId, cluster.tenantId), eq(monitoredResources.kind, 'guest'), eq(monitoredResources.clusterId, cluster.id)));
    const noAgentSince = new Map(previous.map((p) => [p.key, p.counters.noAgent ?? 0]));

    const memory = new Map<string, { used: number; cache: number } | null>();
    await eachLimited(guestRows, options.concurrency, async (r) => {
      const key = `${cluster.id}/${r.vmid}`;
      const skipped = noAgentSince.get(key) ?? 0;
      // Ten readings without an agent: ask once, then skip ten more.
      memory.set(key, await guestMemory(px, r, skipped > 0 && skipped % 10 !== 0));
    });

    const agentMs = lap();
    const readings: ResourceReading[] = [
      { kind: 'proxmox_cluster', key: cluster.id, name: cluster.name, refId: cluster.id, clusterId: cluster.id, status: 'reachable', values: { up: 1 } },
      ...nodeRows.map((r): ResourceReading => {
        const online = r.status === 'online';
        return {
          kind: 'proxmox_node',
          key: `${cluster.id}/${r.node}`,
          name: r.node!,
          clusterId: cluster.id,
          node: r.node,
          status: online ? 'online' : 'offline',
          values: clean(
            online
              ? { up: 1, cpuPercent: pct(r.cpu), memUsedBytes: r.mem, memTotalBytes: r.maxmem, diskUsedBytes: r.disk, diskTotalBytes: r.maxdisk }
              : { up: 0 },
          ),
        };
      }),
      ...guestRows.map((r): ResourceReading => {
        const key = `${cluster.id}/${r.vmid}`;
        const running = r.status === 'running';
        const mem = memory.get(key);
        const skipped = noAgentSince.get(key) ?? 0;
        return {
          kind: 'guest',
          key,
          name: r.name ?? `${r.type}-${r.vmid}`,
          refId: guestIds.get(r.vmid!) ?? null,
          clusterId: cluster.id,
          node: r.node,
          tags: (r.tags ?? '').split(/[;,\s]+/).filter(Boolean),
          // A guest on an offline node reports `unknown`; say which.
          status: offline.has(r.node) ? 'node-offline' : (r.status ?? 'unknown'),
          noSample: !running,
          values: clean(
            running
              ? {
                  cpuPercent: pct(r.cpu),
                  // What an operator means by used: without the page cache, where the agent tells it.
                  memUsedBytes: mem ? mem.used : r.mem,
                  memCacheBytes: mem ? mem.cache : undefined,
                  memTotalBytes: r.maxmem,
                  diskUsedBytes: r.type === 'lxc' ? r.disk : undefined,
                  diskTotalBytes: r.type === 'lxc' ? r.maxdisk : undefined,
                }
              : {},
          ),
          counters: clean({ netin: r.netin, netout: r.netout, diskread: r.diskread, diskwrite: r.diskwrite, noAgent: r.type === 'qemu' && running && !mem ? skipped + 1 : 0 }) as Record<string, number>,
          rates: { netInBps: 'netin', netOutBps: 'netout', diskReadBps: 'diskread', diskWriteBps: 'diskwrite' },
        };
      }),
    ];
    const stored = await storeReadings(db, cluster.tenantId, readings, at);
    const storeMs = lap();

    // History Proxmox kept while Keelson was not looking: new resources, or after a gap.
    let backfilled = 0;
    const gaps = stored.filter((s) => (s.kind === 'guest' || s.kind === 'proxmox_node') && (!s.previousSampleAt || at.getTime() - s.previousSampleAt.getTime() > options.backfillAfterMs));
    const byKey = new Map(resources.map((r) => [r.type === 'node' ? `${cluster.id}/${r.node}` : `${cluster.id}/${r.vmid}`, r]));
    await eachLimited(gaps, options.concurrency, async (s) => {
      const r = byKey.get(s.key);
      if (!r || (s.kind === 'guest' && r.status !== 'running') || offline.has(r.node)) return;
      try {
        const points = (
          s.kind === 'guest'
            ? await (r.type === 'lxc' ? px.nodes.$(r.node!).lxc.$(r.vmid!) : px.nodes.$(r.node!).qemu.$(r.vmid!)).rrddata.$get({ timeframe: 'hour', cf: 'AVERAGE' })
            : await px.nodes.$(r.node!).rrddata.$get({ timeframe: 'hour', cf: 'AVERAGE' })
        ) as RrdPoint[];
        const since = s.previousSampleAt?.getTime() ?? 0;
        // Only whole steps, before this reading: the step in progress is still changing. (A VM's
        // rrddata memory includes its page cache: history imported this way cannot tell.)
        const history = points
          .filter((p) => p.cpu !== undefined && p.time * 1000 > since && (p.time + 60) * 1000 <= at.getTime())
          .map((p) => ({
            at: new Date(p.time * 1000),
            values: clean(
              s.kind === 'guest'
                ? { cpuPercent: pct(p.cpu), memUsedBytes: p.mem, memTotalBytes: p.maxmem, netInBps: p.netin, netOutBps: p.netout, diskReadBps: p.diskread, diskWriteBps: p.diskwrite }
                : { up: 1, cpuPercent: pct(p.cpu), memUsedBytes: p.memused, memTotalBytes: p.memtotal, diskUsedBytes: p.rootused, diskTotalBytes: p.roottotal, netInBps: p.netin, netOutBps: p.netout },
            ),
          }));
        backfilled += await storeHistory(db, cluster.tenantId, s.id, history);
      } catch {
        // History is a nicety: the next gap check tries again.
      }
    });
    return { clusterId: cluster.id, reachable: true, nodes: nodeRows.length, guests: guestRows.length, backfilled, timings: { resourcesMs, agentMs, storeMs, backfillMs: lap() } };
  }

  return {
    /** One round of one cluster, heartbeating: a round whose worker died is retried within seconds. */
    collectProxmoxCluster: (input: { clusterId: string }): Promise<ProxmoxCollectResult> => whileAlive(() => collectCluster(input)),

    /** Every recorded Proxmox cluster, for the collection run. */
    async listProxmoxClusters(): Promise<string[]> {
      return (await db.select({ id: proxmoxClusters.id }).from(proxmoxClusters)).map((c) => c.id);
    },
  };
}

export type ProxmoxMetricsActivities = ReturnType<typeof createProxmoxMetricsActivities>;
