/**
 * CPU time of the bench's parts, read from /proc: the whole machine (every core's busy time),
 * the API's process, the client's, the worker's, the Temporal dev server and every Postgres
 * process (the API's and the worker's connections are backends of their own). Summed over a
 * side's batches and divided by its starts, it says what one start and its run cost each part.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface CpuParts {
  machine: number;
  api: number;
  client: number;
  worker: number;
  temporal: number;
  postgres: number;
}

export const CPU_PARTS = ['machine', 'api', 'client', 'worker', 'temporal', 'postgres'] as const satisfies readonly (keyof CpuParts)[];

const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface CpuPids {
  api: number;
  client: number;
  worker: number;
}

/** Each process of a part and the CPU (ms) it has used since it started; the machine's: since boot. */
export interface CpuSnapshot {
  machine: number;
  processes: Map<number, { part: Exclude<keyof CpuParts, 'machine'>; cpuMs: number }>;
}

export function cpuSnapshot(pids: CpuPids): CpuSnapshot {
  const processes: CpuSnapshot['processes'] = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (!stat) continue;
    const part = pid === pids.api ? 'api' : pid === pids.client ? 'client' : pid === pids.worker ? 'worker' : stat.comm === 'temporal' ? 'temporal' : stat.comm === 'postgres' ? 'postgres' : undefined;
    if (part) processes.set(pid, { part, cpuMs: stat.cpuMs });
  }
  return { machine: machineBusyMs(), processes };
}

/**
 * The CPU each part used between two snapshots. A process that ended between them (a Postgres
 * backend of a closed connection) is left out: what it used meanwhile can no longer be read.
 */
export function cpuSince(before: CpuSnapshot, after: CpuSnapshot): CpuParts {
  const parts = noCpu();
  parts.machine = after.machine - before.machine;
  for (const [pid, { part, cpuMs }] of after.processes) parts[part] += cpuMs - (before.processes.get(pid)?.cpuMs ?? 0);
  return parts;
}

export function addCpu(into: CpuParts, more: CpuParts): void {
  for (const k of CPU_PARTS) into[k] += more[k];
}

export const noCpu = (): CpuParts => ({ machine: 0, api: 0, client: 0, worker: 0, temporal: 0, postgres: 0 });

function machineBusyMs(): number {
  // cpu  user nice system idle iowait irq softirq steal …
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) * TICK_MS;
}

/** A process's name and its CPU (user + system, ms); undefined if it ended meanwhile. */
export function readStat(pid: number, path = `/proc/${pid}/stat`): { comm: string; cpuMs: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { comm: stat.slice(stat.indexOf('(') + 1, close), cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
}

/**
 * This process's CPU (ms) by kind of thread: the event loop (the main thread), the Temporal
 * core's runtime (`tokio-*`: its gRPC client) and the other threads (V8's garbage collection and
 * compiler helpers and libuv's pool, all named `node`). Threads that ended are left out.
 */
export function threadCpu(): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readStat(process.pid, `/proc/self/task/${tid}/stat`);
    if (!stat) continue;
    const kind = Number(tid) === process.pid ? 'event loop' : stat.comm.startsWith('tokio') ? 'Temporal core' : 'other threads';
    kinds[kind] = (kinds[kind] ?? 0) + stat.cpuMs;
  }
  return kinds;
}
