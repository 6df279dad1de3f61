import type { Cluster } from './cluster';
import type { GuestRecord, NodeRecord } from './state/model';

/**
 * What each running guest is doing, so usage numbers move the way a real cluster's do: a quiet
 * daily-ish rhythm per guest (a slow wave with a phase of its own, plus jitter), which a test or
 * a person can override with `PUT /_sim/guests/<vmid>/load` to push a guest over a threshold on
 * purpose. Everything else — `cluster/resources`, `status/current`, `rrddata`, the guest agent's
 * `/proc/meminfo` — is derived from `guestLoad()` at a point in time, so all of them agree.
 *
 * Memory follows a Linux guest: `used` is what its processes hold, `cache` is the page cache that
 * grows towards what is free. PVE reports a VM's memory as total − MemFree (the balloon driver's
 * free memory), so a VM's `mem` includes the cache; a container's `mem` comes from its cgroup
 * without the page cache. The agent's `/proc/meminfo` tells the two apart.
 */

/** Rates and levels at one instant. Fractions are of what the guest was given. */
export interface GuestLoad {
  /** Share of the guest's CPUs in use, 0…1 (PVE's `cpu`). */
  cpu: number;
  /** Memory held by processes, as a share of the guest's memory. */
  memUsed: number;
  /** Page cache, as a share of the guest's memory. */
  memCache: number;
  /** Bytes per second. */
  netin: number;
  netout: number;
  diskread: number;
  diskwrite: number;
}

/** A load set through the control API; unset fields keep following the natural pattern. */
export type LoadOverride = Partial<GuestLoad>;

interface GuestLoadState {
  /** Overrides in the order they were set; `null` returned the guest to its natural pattern. */
  overrides: Array<{ from: number; load: LoadOverride | null }>;
  /** Cumulative byte counters as of `at` (PVE reports netin/netout/diskread/diskwrite as totals). */
  counters: { at: number; netin: number; netout: number; diskread: number; diskwrite: number };
}

const MAX_OVERRIDES = 100;

/** Per-cluster load state; in memory only (a restarted simulator starts quiet again). */
const registry = new WeakMap<Cluster, Map<number, GuestLoadState>>();

function statesOf(cluster: Cluster): Map<number, GuestLoadState> {
  let map = registry.get(cluster);
  if (!map) registry.set(cluster, (map = new Map()));
  return map;
}

function stateOf(cluster: Cluster, vmid: number, now: number): GuestLoadState {
  const map = statesOf(cluster);
  let state = map.get(vmid);
  if (!state) map.set(vmid, (state = { overrides: [], counters: { at: now, netin: 0, netout: 0, diskread: 0, diskwrite: 0 } }));
  return state;
}

/** Deterministic jitter in [-1, 1] for a guest and a 10-second slot (so repeated reads agree). */
function jitter(vmid: number, slot: number, salt: number): number {
  let x = (vmid * 374761393 + slot * 668265263 + salt * 2147483647) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 1274126177) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 2147483648 - 1;
}

/** The pattern a guest follows when nobody set its load. */
export function naturalLoad(vmid: number, at: number): GuestLoad {
  const seconds = at / 1000;
  const phase = (vmid % 97) * 0.37;
  // A slow wave (a ~40-minute period) and a faster one, both small: a quiet, living guest.
  const wave = 0.5 + 0.5 * Math.sin(seconds / 380 + phase);
  const ripple = 0.5 + 0.5 * Math.sin(seconds / 45 + phase * 3);
  const slot = Math.floor(seconds / 10);
  return {
    cpu: clamp(0.03 + 0.09 * wave + 0.03 * ripple + 0.01 * jitter(vmid, slot, 1), 0, 1),
    memUsed: clamp(0.22 + 0.08 * wave + 0.01 * jitter(vmid, slot, 2), 0, 1),
    memCache: clamp(0.3 + 0.12 * ripple, 0, 1),
    netin: Math.max(0, 12_000 + 30_000 * wave + 2_000 * jitter(vmid, slot, 3)),
    netout: Math.max(0, 8_000 + 45_000 * ripple + 2_000 * jitter(vmid, slot, 4)),
    diskread: Math.max(0, 4_000 + 60_000 * ripple * wave),
    diskwrite: Math.max(0, 20_000 + 90_000 * wave),
  };
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** The load in force at `at`: the latest override set at or before it, over the natural pattern. */
export function guestLoad(cluster: Cluster, guest: GuestRecord, at = Date.now()): GuestLoad {
  const natural = naturalLoad(guest.vmid, at);
  const state = statesOf(cluster).get(guest.vmid);
  if (!state) return natural;
  let override: LoadOverride | null = null;
  for (const entry of state.overrides) if (entry.from <= at) override = entry.load;
  if (!override) return natural;
  const load = { ...natural, ...override };
  // Processes and cache never hold more than the guest has: cache gives way first.
  load.memUsed = clamp(load.memUsed, 0, 1);
  load.memCache = clamp(Math.min(load.memCache, 1 - load.memUsed), 0, 1);
  return load;
}

/** Sets (or with `null` clears) a guest's load from now on. */
export function setGuestLoad(cluster: Cluster, vmid: number, load: LoadOverride | null, now = Date.now()): void {
  const state = stateOf(cluster, vmid, now);
  advanceCounters(cluster, vmid, now);
  state.overrides.push({ from: now, load });
  if (state.overrides.length > MAX_OVERRIDES) state.overrides.splice(0, state.overrides.length - MAX_OVERRIDES);
}

/** The override a guest follows now, if any (for the control API). */
export function currentOverride(cluster: Cluster, vmid: number): LoadOverride | null {
  return statesOf(cluster).get(vmid)?.overrides.at(-1)?.load ?? null;
}

export function forgetGuestLoad(cluster: Cluster, vmid: number): void {
  statesOf(cluster).delete(vmid);
}

/**
 * Cumulative byte counters up to `now`, integrated from the rates read at each call (PVE's
 * `netin`, `netout`, `diskread`, `diskwrite` in `cluster/resources` are totals since start).
 */
export function advanceCounters(cluster: Cluster, vmid: number, now = Date.now()) {
  const guest = cluster.findGuest(vmid);
  const state = stateOf(cluster, vmid, now);
  const c = state.counters;
  if (guest && guest.status === 'running' && now > c.at) {
    const from = Math.max(c.at, guest.startedAt ?? c.at);
    const seconds = Math.max(0, (now - from) / 1000);
    const load = guestLoad(cluster, guest, now);
    c.netin += load.netin * seconds;
    c.netout += load.netout * seconds;
    c.diskread += load.diskread * seconds;
    c.diskwrite += load.diskwrite * seconds;
  }
  c.at = now;
  return c;
}

/** Memory in bytes as the guest itself sees it (what `/proc/meminfo` would say). */
export function guestMemory(load: GuestLoad, totalBytes: number) {
  const used = Math.round(totalBytes * load.memUsed);
  const cache = Math.round(totalBytes * load.memCache);
  // A little of the cache is dirty or mapped and cannot be dropped, as on a real system.
  const buffers = Math.round(cache * 0.04);
  const free = Math.max(0, totalBytes - used - cache - buffers);
  const available = Math.max(0, free + Math.round((cache + buffers) * 0.92));
  return { total: totalBytes, used, cache, buffers, free, available };
}

/** `/proc/meminfo` of a Linux guest with this memory (kB, as the kernel writes it). */
export function procMeminfo(memory: ReturnType<typeof guestMemory>): string {
  const kb = (bytes: number) => String(Math.round(bytes / 1024)).padStart(8);
  return [
    `MemTotal:       ${kb(memory.total)} kB`,
    `MemFree:        ${kb(memory.free)} kB`,
    `MemAvailable:   ${kb(memory.available)} kB`,
    `Buffers:        ${kb(memory.buffers)} kB`,
    `Cached:         ${kb(memory.cache)} kB`,
    `SwapCached:     ${kb(0)} kB`,
    `Active:         ${kb(memory.used * 0.6 + memory.cache * 0.4)} kB`,
    `Inactive:       ${kb(memory.used * 0.4 + memory.cache * 0.6)} kB`,
    `SwapTotal:      ${kb(0)} kB`,
    `SwapFree:       ${kb(0)} kB`,
    `Dirty:          ${kb(memory.buffers / 4)} kB`,
    `AnonPages:      ${kb(memory.used)} kB`,
    `Shmem:          ${kb(memory.cache * 0.02)} kB`,
    '',
  ].join('\n');
}

/**
 * A node's usage at `at`: a base for the host itself plus what its running guests use (a VM's
 * cache is host memory too: QEMU touched those pages).
 */
export function nodeLoad(cluster: Cluster, node: NodeRecord, maxMemOf: (guest: GuestRecord) => number, cpusOf: (guest: GuestRecord) => number, at = Date.now()) {
  const running = cluster.state.guests.filter((guest) => guest.node === node.name && guest.status === 'running');
  let cpuCores = 0.12;
  let mem = 3 * 1024 ** 3;
  let netin = 2_000;
  let netout = 1_500;
  let io = 0;
  for (const guest of running) {
    const load = guestLoad(cluster, guest, at);
    cpuCores += load.cpu * cpusOf(guest);
    mem += Math.round(maxMemOf(guest) * (load.memUsed + load.memCache));
    netin += load.netin;
    netout += load.netout;
    io += load.diskread + load.diskwrite;
  }
  return {
    cpu: clamp(cpuCores / node.cpus, 0, 1),
    mem: Math.min(node.memoryBytes, mem),
    netin,
    netout,
    iowait: clamp(io / 400_000_000, 0, 0.5),
    loadavg: cpuCores * 1.1,
  };
}

/** Back to the natural pattern for every guest (the control API's reset). */
export function forgetAllLoads(cluster: Cluster): void {
  registry.delete(cluster);
}
