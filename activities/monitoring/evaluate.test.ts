import { describe, expect, it } from 'vitest';
import { observe, type World } from './evaluate';
import type { ResourceView } from './rules';

/**
 * When a guest counts as "no data": its last sample is older than the rule's window *and* its
 * cluster has read it since. A guest whose sample is as new as its cluster's latest reading has
 * missed nothing — the reading is late (a slow round) — so its "no data" alert is held.
 */
const NOW = Date.parse('2026-12-03T02:00:00Z');
const ago = (seconds: number) => new Date(NOW - seconds * 1000);
const rule = { id: 'r', tenantId: 't', name: 'CPU', metric: 'cpu_percent', comparison: '>', threshold: 90, clearThreshold: 70, forSeconds: 5, repeatSeconds: 0, severity: 'warning', noData: 'alert', noDataSeconds: 30 } as unknown as Parameters<typeof observe>[0];

function resource(kind: ResourceView['kind'], key: string, lastSampleAt: Date | null, more: Partial<ResourceView> = {}): ResourceView {
  return { id: key, kind, key, name: key, clusterId: 'c1', node: 'pve1', tags: [], status: kind === 'proxmox_cluster' ? 'reachable' : 'running', lastSampleAt, lastValues: { cpuPercent: 10 }, ...more };
}

function world(...rows: ResourceView[]): World {
  return { byKindKey: new Map(rows.map((r) => [`${r.kind}\u0000${r.key}`, r])), inMaintenance: new Set() };
}

describe('"no data" of a guest', () => {
  it('holds while the guest’s last sample belongs to its cluster’s latest reading, however late that reading is', () => {
    const cluster = resource('proxmox_cluster', 'c1', ago(45));
    const guest = resource('guest', 'c1/100', ago(45));
    expect(observe(rule, guest, world(cluster, guest), NOW).nodata).toBe('hold');
  });

  it('opens when the cluster has read since and the guest was not in it', () => {
    const cluster = resource('proxmox_cluster', 'c1', ago(5));
    const guest = resource('guest', 'c1/100', ago(45));
    expect(observe(rule, guest, world(cluster, guest), NOW).nodata).toBe('open');
  });

  it('opens for a guest whose cluster was never read, and clears for a fresh one', () => {
    const guest = resource('guest', 'c1/100', ago(45));
    expect(observe(rule, guest, world(guest), NOW).nodata).toBe('open');
    const fresh = resource('guest', 'c1/101', ago(5));
    expect(observe(rule, fresh, world(resource('proxmox_cluster', 'c1', ago(5)), fresh), NOW)).toMatchObject({ nodata: 'clear', metric: { status: 'clear', value: 10 } });
  });

  it('never holds what is not read with a cluster (a container)', () => {
    const container = resource('container', 'ct-1', ago(45), { clusterId: null });
    expect(observe(rule, container, world(container), NOW).nodata).toBe('open');
  });
});
