import type { AlertMetric, AlertScope, Comparison, MonitoredKind, SampleValues } from '@keelson/db/schema';

/**
 * What a rule means, as pure functions the evaluator, the alert workflow's checks and the API
 * share: which resources a scope covers, a metric's value, which side of the thresholds it is on,
 * and whether a resource's parent being down holds its alerts.
 */

export interface ResourceView {
  id: string;
  kind: MonitoredKind;
  key: string;
  name: string;
  clusterId: string | null;
  node: string | null;
  tags: string[];
  status: string;
  lastSampleAt: Date | null;
  lastValues: SampleValues;
}

/** The kinds each metric applies to. */
export const METRIC_KINDS: Record<AlertMetric, MonitoredKind[]> = {
  cpu_percent: ['docker_node', 'container', 'app', 'proxmox_node', 'guest'],
  memory_percent: ['docker_node', 'container', 'app', 'proxmox_node', 'guest'],
  memory_used_bytes: ['docker_node', 'container', 'app', 'proxmox_node', 'guest'],
  disk_percent: ['proxmox_node', 'guest'],
  net_in_bps: ['docker_node', 'container', 'app', 'guest'],
  net_out_bps: ['docker_node', 'container', 'app', 'guest'],
  disk_read_bps: ['container', 'app', 'guest'],
  disk_write_bps: ['container', 'app', 'guest'],
  up: ['docker_node', 'app', 'proxmox_cluster', 'proxmox_node'],
  latency_ms: ['app'],
};

export function metricValue(metric: AlertMetric, v: SampleValues): number | undefined {
  const ratio = (a?: number, b?: number) => (a === undefined || !b ? undefined : (a / b) * 100);
  switch (metric) {
    case 'cpu_percent':
      return v.cpuPercent;
    case 'memory_percent':
      return ratio(v.memUsedBytes, v.memTotalBytes);
    case 'memory_used_bytes':
      return v.memUsedBytes;
    case 'disk_percent':
      return ratio(v.diskUsedBytes, v.diskTotalBytes);
    case 'net_in_bps':
      return v.netInBps;
    case 'net_out_bps':
      return v.netOutBps;
    case 'disk_read_bps':
      return v.diskReadBps;
    case 'disk_write_bps':
      return v.diskWriteBps;
    case 'up':
      return v.up;
    case 'latency_ms':
      return v.latencyMs;
  }
}

/** Where a value stands: past the threshold, back past the clear threshold, or in between. */
export type Side = 'breach' | 'between' | 'clear';

export function sideOf(value: number, rule: { comparison: Comparison; threshold: number; clearThreshold: number }): Side {
  const { comparison, threshold, clearThreshold } = rule;
  const breach = comparison === '>' ? value > threshold : comparison === '>=' ? value >= threshold : comparison === '<' ? value < threshold : value <= threshold;
  if (breach) return 'breach';
  // Clearing needs the value back across the clear threshold (hysteresis), towards normal.
  const clear = comparison === '>' || comparison === '>=' ? value < clearThreshold || (clearThreshold === threshold && !breach) : value > clearThreshold || (clearThreshold === threshold && !breach);
  return clear ? 'clear' : 'between';
}

/** A clear threshold must lie on the normal side of the threshold (or equal it: no hysteresis). */
export function clearThresholdProblem(rule: { comparison: Comparison; threshold: number; clearThreshold: number }): string | null {
  const above = rule.comparison === '>' || rule.comparison === '>=';
  if (above && rule.clearThreshold > rule.threshold) return `must be at most the threshold (${rule.threshold}) for a "${rule.comparison}" rule`;
  if (!above && rule.clearThreshold < rule.threshold) return `must be at least the threshold (${rule.threshold}) for a "${rule.comparison}" rule`;
  return null;
}

/** Whether `scope` covers `r` (the rule's kinds and the metric's are checked separately). */
export function inScope(scope: AlertScope, r: ResourceView, all: Map<string, ResourceView>): boolean {
  switch (scope.type) {
    case 'all':
      return true;
    case 'resource':
      return r.id === scope.resourceId;
    case 'cluster':
      return r.clusterId === scope.clusterId;
    case 'tag':
      return r.tags.includes(scope.tag);
    case 'node': {
      if (r.id === scope.resourceId) return true;
      const node = all.get(scope.resourceId);
      if (!node) return false;
      if (node.kind === 'docker_node') return (r.kind === 'container' || r.kind === 'app') && r.node === node.key;
      if (node.kind === 'proxmox_node') return r.kind === 'guest' && r.clusterId === node.clusterId && r.node === node.name;
      return false;
    }
  }
}

const DOWN = new Set(['unreachable', 'offline']);

/**
 * The resource whose being down holds `r`'s alerts, if one is down: a container's or app's Docker
 * node; a guest's Proxmox node or cluster; a Proxmox node's cluster. Its own alert (up < 1) speaks
 * for everything below it.
 */
export function downParent(r: ResourceView, byKindKey: Map<string, ResourceView>): ResourceView | null {
  const get = (kind: MonitoredKind, key: string | null) => (key ? (byKindKey.get(`${kind}\u0000${key}`) ?? null) : null);
  const down = (p: ResourceView | null) => (p && DOWN.has(p.status) ? p : null);
  if (r.kind === 'container' || r.kind === 'app') return down(get('docker_node', r.node));
  if (r.kind === 'proxmox_node') return down(get('proxmox_cluster', r.clusterId));
  if (r.kind === 'guest') return down(get('proxmox_cluster', r.clusterId)) ?? down(get('proxmox_node', r.clusterId && r.node ? `${r.clusterId}/${r.node}` : null));
  return null;
}

/** Resources that are off on purpose: no data from them is no news. */
export const STOPPED = new Set(['stopped']);
