import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryGuests } from './guests/memory';
import { loadControl } from './load-control';
import { apiCaller, startTestSim, type ApiCaller, type TestSim } from './testing';

/** Usage that changes with time and follows the load a test sets, in Proxmox's own formats. */
let sim: TestSim;
let api: ApiCaller;
let load: ReturnType<typeof loadControl>;

beforeAll(async () => {
  sim = await startTestSim({ guests: new MemoryGuests() });
  api = apiCaller(sim);
  load = loadControl(sim);
});
afterAll(async () => {
  await sim.dispose();
});
beforeEach(async () => {
  await sim.control.reset();
  await sim.control.setTimeScale(0);
});

const vm = (vmid: number, rest = '') => `/nodes/pve/qemu/${vmid}${rest}`;

async function runningVm(vmid: number, memoryMiB = 2048): Promise<void> {
  expect((await api.waitTask(await api.data<string>('POST', vm(9000, '/clone'), { newid: vmid, name: `vm-${vmid}` }))).exitstatus).toBe('OK');
  await api.data('PUT', vm(vmid, '/config'), { memory: memoryMiB, cores: 2 });
  expect((await api.waitTask(await api.data<string>('POST', vm(vmid, '/status/start')))).exitstatus).toBe('OK');
}

type Resource = { id: string; type: string; cpu?: number; mem?: number; maxmem?: number; netin?: number; netout?: number };
const resource = async (id: string) => (await api.data<Resource[]>('GET', '/cluster/resources')).find((r) => r.id === id)!;
const meminfoKb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)![1]) * 1024;

describe('load and usage', () => {
  it('a running VM reports a quiet, moving CPU; a set load shows at once in cluster/resources and status/current', async () => {
    await runningVm(200);
    const quiet = await resource('qemu/200');
    expect(quiet.cpu).toBeGreaterThan(0);
    expect(quiet.cpu).toBeLessThan(0.3);

    await load.set(200, { cpu: 0.93 });
    expect(await load.get(200)).toEqual({ cpu: 0.93 });
    expect((await resource('qemu/200')).cpu).toBeCloseTo(0.93, 5);
    expect((await api.data<{ cpu: number }>('GET', vm(200, '/status/current'))).cpu).toBeCloseTo(0.93, 5);

    await load.set(200, null);
    expect((await resource('qemu/200')).cpu).toBeLessThan(0.3);
  });

  it('network counters are cumulative and grow with the rate set', async () => {
    await runningVm(201);
    await load.set(201, { netin: 1_000_000 });
    const first = (await resource('qemu/201')).netin!;
    await new Promise((r) => setTimeout(r, 300));
    const second = (await resource('qemu/201')).netin!;
    // ~0.3 s at 1 MB/s; timers are coarse on a busy machine.
    expect(second - first).toBeGreaterThan(200_000);
    expect(second - first).toBeLessThan(2_000_000);
  });

  it("a VM's mem counts its page cache, as PVE's does; the agent's /proc/meminfo tells cache from used", async () => {
    await runningVm(202, 4096);
    await load.set(202, { memUsed: 0.25, memCache: 0.5 });
    const r = await resource('qemu/202');
    expect(r.maxmem).toBe(4096 * 1024 ** 2);
    // total − MemFree: processes, cache and buffers.
    expect(r.mem! / r.maxmem!).toBeGreaterThan(0.75);
    const { content } = await api.data<{ content: string }>('GET', vm(202, '/agent/file-read'), { file: '/proc/meminfo' });
    const total = meminfoKb(content, 'MemTotal');
    const available = meminfoKb(content, 'MemAvailable');
    expect(total).toBe(4096 * 1024 ** 2);
    // What an operator means by used: about the quarter the processes hold.
    expect((total - available) / total).toBeGreaterThan(0.24);
    expect((total - available) / total).toBeLessThan(0.32);
    expect(meminfoKb(content, 'Cached') / total).toBeCloseTo(0.5, 2);
    const other = await api.call('GET', vm(202, '/agent/file-read'), { file: '/etc/shadow' });
    expect([other.status, other.reason]).toEqual([500, "Agent error: Failed to open file '/etc/shadow': No such file or directory"]);
  });

  it('refuses a malformed load, and answers 404 for a guest that does not exist', async () => {
    await runningVm(203);
    await expect(load.set(203, { cpu: 1.5 })).rejects.toThrow(/400 cpu must be a number from 0 to 1/);
    await expect(load.set(203, { bogus: 1 } as never)).rejects.toThrow(/400 unknown load field 'bogus'/);
    await expect(load.set(999, { cpu: 0.5 })).rejects.toThrow(/404 no guest 999/);
  });
});

describe('rrddata', () => {
  it("serves a guest's archive in PVE's shape: 70 step-aligned points, the running ones with every key", async () => {
    await runningVm(210);
    const points = await api.data<Array<{ time: number } & Record<string, number>>>('GET', vm(210, '/rrddata'), { timeframe: 'hour', cf: 'AVERAGE' });
    expect(points).toHaveLength(70);
    expect(points.every((p, i) => i === 0 || p.time - points[i - 1]!.time === 60)).toBe(true);
    expect(points.every((p) => p.time % 60 === 0)).toBe(true);
    // Started just now: only the current step has data.
    expect(points[0]).toEqual({ time: points[0]!.time });
    expect(Object.keys(points.at(-1)!).sort()).toEqual(['cpu', 'disk', 'diskread', 'diskwrite', 'maxcpu', 'maxdisk', 'maxmem', 'mem', 'netin', 'netout', 'time']);
    expect(points.at(-1)!.maxcpu).toBe(2);
  });

  it('follows the load set: the current step rises towards it, MAX shows it whole', async () => {
    await runningVm(211);
    await load.set(211, { cpu: 0.9 });
    await new Promise((r) => setTimeout(r, 50));
    const max = await api.data<Array<{ cpu?: number }>>('GET', vm(211, '/rrddata'), { timeframe: 'hour', cf: 'MAX' });
    expect(max.at(-1)!.cpu).toBeCloseTo(0.9, 5);
  });

  it("serves a node's archive with PVE's node keys, its usage summing its guests'", async () => {
    await runningVm(212);
    await load.set(212, { cpu: 1 });
    const points = await api.data<Array<Record<string, number>>>('GET', '/nodes/pve/rrddata', { timeframe: 'hour' });
    expect(points).toHaveLength(70);
    const last = points.at(-1)!;
    expect(Object.keys(last).sort()).toEqual(['cpu', 'iowait', 'loadavg', 'maxcpu', 'memtotal', 'memused', 'netin', 'netout', 'roottotal', 'rootused', 'swaptotal', 'swapused', 'time']);
    expect(last.maxcpu).toBe(16);
    const node = await resource('node/pve');
    // Two busy cores of sixteen, plus the host's own.
    expect(node.cpu!).toBeGreaterThan(2 / 16);
    const bad = await api.call('GET', '/nodes/pve/rrddata', { timeframe: 'decade' });
    expect(bad.status).toBe(400);
  });
});
