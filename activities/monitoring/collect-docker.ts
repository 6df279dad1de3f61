import { DockerLabel } from '@keelson/common/constants';
import type { Database } from '@keelson/db';
import { apps, containers, monitoredResources, nodes, releases, type SampleValues } from '@keelson/db/schema';
import type Docker from 'dockerode';
import { and, eq, inArray, isNotNull, ne } from 'drizzle-orm';
import { readFile } from 'node:fs/promises';
import { AppLabel } from '../deploy/index';
import { eachLimited } from './collect-proxmox';
import { whileAlive } from './keep-alive';
import { markUnreachable, storeReadings, type ResourceReading } from './store';

/**
 * Host-bound collection for one Docker node, run by that node's worker on its own task queue:
 * the host's CPU, memory and network from /proc, `docker stats` of every Keelson container and
 * app release on it, and an HTTP check of each app through the node's edge proxy (as its users
 * reach it). Counters (CPU time, bytes) become rates against the previous reading.
 */

export interface DockerMetricsDeps {
  db: Database;
  docker: Docker;
  nodeId: string;
  /** Where the node's edge proxy serves apps, e.g. http://127.0.0.1:8080; no uptime checks without it. */
  appBaseUrl?: string;
  /** The host's /proc (tests may point elsewhere). Default /proc. */
  procRoot?: string;
  /** Uptime check timeout. Default 5 s. */
  checkTimeoutMs?: number;
}

export interface DockerCollectResult {
  nodeId: string;
  containers: number;
  apps: number;
}

interface HostCounters {
  cpuBusy: number;
  cpuTotal: number;
  netin: number;
  netout: number;
}

async function readHost(procRoot: string): Promise<{ counters: HostCounters; memTotal: number; memUsed: number; memCache: number; cpus: number }> {
  const [stat, meminfo, netdev] = await Promise.all([readFile(`${procRoot}/stat`, 'utf8'), readFile(`${procRoot}/meminfo`, 'utf8'), readFile(`${procRoot}/net/dev`, 'utf8')]);
  const cpu = stat.split('\n').find((line) => line.startsWith('cpu '))!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const total = cpu.slice(0, 8).reduce((sum, v) => sum + v, 0);
  const busy = total - cpu[3]! - cpu[4]!;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  let netin = 0;
  let netout = 0;
  for (const line of netdev.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name!.trim() === 'lo') continue;
    const fields = rest.trim().split(/\s+/).map(Number);
    netin += fields[0]!;
    netout += fields[8]!;
  }
  const cpus = stat.split('\n').filter((line) => /^cpu\d+ /.test(line)).length;
  return { counters: { cpuBusy: busy, cpuTotal: total, netin, netout }, memTotal: kb('MemTotal'), memUsed: kb('MemTotal') - kb('MemAvailable'), memCache: kb('Cached') + kb('Buffers'), cpus };
}

interface DockerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
}

/** What `docker stats` shows, as counters and levels: memory without the page cache, as the CLI does. */
function fromStats(stats: DockerStats, cpuLimit: number | null) {
  const cpus = stats.cpu_stats?.online_cpus ?? 1;
  const memStats = stats.memory_stats?.stats ?? {};
  const cache = memStats.inactive_file ?? memStats.total_inactive_file ?? memStats.cache ?? 0;
  const usage = stats.memory_stats?.usage;
  let netin = 0;
  let netout = 0;
  for (const n of Object.values(stats.networks ?? {})) {
    netin += n.rx_bytes;
    netout += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const entry of stats.blkio_stats?.io_service_bytes_recursive ?? []) {
    if (entry.op.toLowerCase() === 'read') read += entry.value;
    if (entry.op.toLowerCase() === 'write') write += entry.value;
  }
  return {
    // Percent of what the container may use: its CPU limit, or the host's CPUs.
    share: cpuLimit && cpuLimit > 0 ? cpus / cpuLimit : 1,
    counters: { cpuUsage: stats.cpu_stats?.cpu_usage?.total_usage ?? 0, cpuSystem: stats.cpu_stats?.system_cpu_usage ?? 0, netin, netout, blkread: read, blkwrite: write },
    values: { memUsedBytes: usage === undefined ? undefined : Math.max(0, usage - cache), memCacheBytes: cache, memTotalBytes: stats.memory_stats?.limit } as SampleValues,
  };
}

/** CPU percent from two readings of container counters (as `docker stats` computes it). */
function cpuPercent(previous: Record<string, number> | undefined, current: { cpuUsage: number; cpuSystem: number }, share: number): number | undefined {
  if (!previous || previous.cpuUsage === undefined || previous.cpuSystem === undefined) return undefined;
  const usage = current.cpuUsage - previous.cpuUsage;
  const system = current.cpuSystem - previous.cpuSystem;
  if (usage < 0 || system <= 0) return undefined;
  return Math.min(100, (usage / system) * 100 * share);
}

export function createDockerMetricsActivities(deps: DockerMetricsDeps) {
  const { db, docker, nodeId } = deps;
  const procRoot = deps.procRoot ?? '/proc';

  async function check(url: string, hostname: string): Promise<{ up: number; latencyMs?: number }> {
    const started = performance.now();
    try {
      const res = await fetch(url, { headers: { host: hostname }, signal: AbortSignal.timeout(deps.checkTimeoutMs ?? 5000), redirect: 'manual' });
      await res.arrayBuffer();
      return { up: res.status >= 200 && res.status < 400 ? 1 : 0, latencyMs: performance.now() - started };
    } catch {
      return { up: 0 };
    }
  }

  async function collect(): Promise<DockerCollectResult> {
    const [node] = await db.select({ id: nodes.id, tenantId: nodes.tenantId, name: nodes.name }).from(nodes).where(eq(nodes.id, nodeId));
    if (!node) return { nodeId, containers: 0, apps: 0 };
    const at = new Date();
    const [host, info, known, served, running] = await Promise.all([
      readHost(procRoot),
      docker.info() as Promise<{ NCPU: number; MemTotal: number; ContainersRunning: number }>,
      db
        .select({ id: containers.id, name: containers.name, spec: containers.spec })
        .from(containers)
        .where(and(eq(containers.nodeId, nodeId), ne(containers.state, 'removed'))),
      db
        .select({ id: apps.id, name: apps.name, hostname: apps.hostname, health: apps.healthCheck, releaseId: apps.currentReleaseId, container: releases.containerName })
        .from(apps)
        .leftJoin(releases, eq(releases.id, apps.currentReleaseId))
        .where(and(eq(apps.nodeId, nodeId), isNotNull(apps.currentReleaseId))),
      docker.listContainers({ filters: { label: [`${DockerLabel.managed}=true`] } }).then(async (list) => [...list, ...(await docker.listContainers({ filters: { label: [AppLabel.release] } }))]),
    ]);

    // Previous counters, to turn this reading into rates.
    const previous = new Map<string, Record<string, number>>();
    for (const row of await db
      .select({ kind: monitoredResources.kind, key: monitoredResources.key, counters: monitoredResources.counters })
      .from(monitoredResources)
      .where(and(eq(monitoredResources.tenantId, node.tenantId), inArray(monitoredResources.kind, ['docker_node', 'container', 'app']), eq(monitoredResources.node, nodeId)))) {
      previous.set(`${row.kind}/${row.key}`, row.counters);
    }

    const byContainer = new Map(running.map((c) => [c.Labels[DockerLabel.container] ?? '', c]));
    const byRelease = new Map(running.map((c) => [c.Labels[AppLabel.release] ?? '', c]));
    const readings: ResourceReading[] = [
      {
        kind: 'docker_node',
        key: nodeId,
        name: node.name,
        refId: nodeId,
        node: nodeId,
        status: 'online',
        values: { up: 1, memUsedBytes: host.memUsed, memCacheBytes: host.memCache, memTotalBytes: host.memTotal || info.MemTotal },
        counters: { ...host.counters },
        rates: { netInBps: 'netin', netOutBps: 'netout' },
      },
    ];
    // Host CPU percent: busy jiffies over all jiffies between readings.
    const hp = previous.get(`docker_node/${nodeId}`);
    if (hp?.cpuTotal !== undefined && host.counters.cpuTotal > hp.cpuTotal) {
      readings[0]!.values.cpuPercent = ((host.counters.cpuBusy - hp.cpuBusy!) / (host.counters.cpuTotal - hp.cpuTotal)) * 100;
    }

    async function containerReading(kind: 'container' | 'app', key: string, name: string, dockerId: string | undefined, cpuLimit: number | null, extra: SampleValues) {
      const reading: ResourceReading = { kind, key, name, refId: key, node: nodeId, status: dockerId ? 'running' : 'stopped', values: { ...extra }, noSample: !dockerId && kind === 'container' };
      if (dockerId) {
        try {
          const stats = (await docker.getContainer(dockerId).stats({ stream: false, 'one-shot': true } as never)) as unknown as DockerStats;
          const s = fromStats(stats, cpuLimit);
          Object.assign(reading.values, s.values);
          const cpu = cpuPercent(previous.get(`${kind}/${key}`), s.counters, s.share);
          if (cpu !== undefined) reading.values.cpuPercent = cpu;
          reading.counters = s.counters;
          reading.rates = { netInBps: 'netin', netOutBps: 'netout', diskReadBps: 'blkread', diskWriteBps: 'blkwrite' };
        } catch {
          reading.status = 'unknown';
        }
      }
      readings.push(reading);
    }

    await eachLimited(known, 8, (c) => containerReading('container', c.id, c.name, byContainer.get(c.id)?.Id, c.spec.cpuLimit, {}));
    await eachLimited(served, 8, async (a) => {
      const probe = deps.appBaseUrl ? await check(new URL(a.health.path, deps.appBaseUrl).toString(), a.hostname) : {};
      await containerReading('app', a.id, a.name, a.releaseId ? byRelease.get(a.releaseId)?.Id : undefined, null, probe);
    });
    await storeReadings(db, node.tenantId, readings, at);
    return { nodeId, containers: known.length, apps: served.length };
  }

  return {
    /** One round of this node, heartbeating: a round whose worker died is retried within seconds. */
    collectDockerNode: (): Promise<DockerCollectResult> => whileAlive(collect),
  };
}

export type DockerMetricsActivities = ReturnType<typeof createDockerMetricsActivities>;

/** Core-side helpers of the Docker collection: which nodes there are, and marking one unreachable. */
export function createDockerNodeDirectoryActivities({ db }: { db: Database }) {
  return {
    async listDockerNodes(): Promise<Array<{ id: string }>> {
      return db.select({ id: nodes.id }).from(nodes);
    },
    async markDockerNodeUnreachable(input: { nodeId: string }): Promise<void> {
      const [node] = await db.select({ tenantId: nodes.tenantId, name: nodes.name }).from(nodes).where(eq(nodes.id, input.nodeId));
      if (node) await markUnreachable(db, { tenantId: node.tenantId, kind: 'docker_node', key: input.nodeId, name: node.name, refId: input.nodeId, node: input.nodeId });
    },
  };
}

export type DockerNodeDirectoryActivities = ReturnType<typeof createDockerNodeDirectoryActivities>;
