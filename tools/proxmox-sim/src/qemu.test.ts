import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryGuests } from './guests/memory';
import { apiCaller, startTestSim, type ApiCaller, type TestSim } from './testing';

let sim: TestSim;
let api: ApiCaller;
const guests = new MemoryGuests();

beforeAll(async () => {
  sim = await startTestSim({
    guests,
    layout: {
      nodes: [{ name: 'pve' }, { name: 'pve2' }],
      templates: [
        { vmid: 9000, name: 'debian-12-cloud', diskGiB: 2 },
        { vmid: 9001, name: 'big-template', diskGiB: 20 },
      ],
    },
  });
  api = apiCaller(sim);
});
afterAll(async () => {
  await sim.dispose();
});
beforeEach(async () => {
  await sim.control.reset();
  await sim.control.setTimeScale(0.02);
});

const vm = (vmid: number, rest = '') => `/nodes/pve/qemu/${vmid}${rest}`;

async function clone(newid: number, params: Record<string, string | number> = {}): Promise<void> {
  const status = await api.waitTask(await api.data<string>('POST', vm(9000, '/clone'), { newid, ...params }));
  expect(status.exitstatus).toBe('OK');
}

async function run(method: string, path: string, params: Record<string, string | number> = {}) {
  return api.waitTask(await api.data<string>(method, path, params));
}

describe('clone', () => {
  it('locks the new VM while the task runs and blocks changes to it', async () => {
    await sim.control.setTimeScale(0.05);
    const upid = await api.data<string>('POST', vm(9000, '/clone'), { newid: 101, name: 'web-1', full: 1 });
    const during = await api.data<Record<string, unknown>>('GET', vm(101, '/config'));
    expect(during.lock).toBe('clone');
    expect(during.name).toBe('web-1');
    const put = await api.call('PUT', vm(101, '/config'), { cores: 4 });
    expect([put.status, put.reason]).toEqual([500, 'VM is locked (clone)']);
    const state = await sim.control.state();
    expect(state.fileLocks).toEqual([{ vmid: 9000, mode: 'shared', holders: 1 }]);
    const current = await api.data<{ lock?: string }>('GET', vm(101, '/status/current'));
    expect(current.lock).toBe('clone');
    expect((await api.waitTask(upid)).exitstatus).toBe('OK');
    const after = await api.data<Record<string, unknown>>('GET', vm(101, '/config'));
    expect(after.lock).toBeUndefined();
    expect(after.template).toBeUndefined();
    expect(after.scsi0).toBe('local-lvm:vm-101-disk-0,size=2G');
    expect(after.net0).not.toBe((await api.data<Record<string, unknown>>('GET', vm(9000, '/config'))).net0);
  });

  it('refuses an existing target and a locked source', async () => {
    await clone(102);
    const again = await api.call('POST', vm(9000, '/clone'), { newid: 102 });
    expect([again.status, again.reason]).toEqual([500, 'unable to create VM 102: config file already exists']);
    await sim.control.setLock(102, 'backup');
    const locked = await api.call('POST', vm(102, '/clone'), { newid: 103 });
    expect([locked.status, locked.reason]).toEqual([500, 'VM is locked (backup)']);
  });

  it('times out on the template flock while a clone of it runs', async () => {
    // Copying 20 GiB takes ~42 s, PVE gives up on the flock after 10 s (both scaled by 0.02).
    const upid = await api.data<string>('POST', vm(9001, '/clone'), { newid: 104, full: 1 });
    const started = Date.now();
    const put = await api.call('PUT', vm(9001, '/config'), { description: 'changed' });
    expect([put.status, put.reason]).toEqual([500, "can't lock file '/var/lock/qemu-server/lock-9001.conf' - got timeout"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect((await sim.control.state()).guests.find((guest) => guest.vmid === 104)?.lock).toBe('clone');
    await sim.control.waitForTask(upid);
    expect((await api.call('PUT', vm(9001, '/config'), { description: 'changed' })).status).toBe(200);
  });

  it("refuses a target node when the disks are on local storage", async () => {
    const reply = await api.call('POST', vm(9000, '/clone'), { newid: 105, target: 'pve2', full: 1 });
    expect([reply.status, reply.reason]).toEqual([500, "can't clone VM to node 'pve2' (VM uses local storage)"]);
  });
});

describe('config', () => {
  it('returns a digest and refuses a stale one', async () => {
    await clone(110);
    const { digest } = await api.data<{ digest: string }>('GET', vm(110, '/config'));
    expect(digest).toMatch(/^[0-9a-f]{40}$/);
    expect((await api.call('PUT', vm(110, '/config'), { cores: 3, digest })).status).toBe(200);
    const stale = await api.call('PUT', vm(110, '/config'), { cores: 4, digest });
    expect([stale.status, stale.reason]).toEqual([500, 'detected modified configuration - file changed by other user? Try again.']);
  });

  it('applies cloud-init settings, keeps sshkeys encoded and hides the password', async () => {
    await clone(111);
    const keys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG+x/abc+def= ops@keelson', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 second'];
    const encoded = encodeURIComponent(keys.join('\n'));
    const upid = await api.data<string>('POST', vm(111, '/config'), {
      ciuser: 'deploy',
      cipassword: 's3cret',
      sshkeys: encoded,
      ipconfig0: 'ip=10.20.0.5/24,gw=10.20.0.1',
      nameserver: '1.1.1.1',
      cores: 4,
      memory: '4096',
      net0: 'virtio,bridge=vmbr1',
      agent: 'enabled=1',
    });
    expect(upid).toContain(':qmconfig:111:');
    expect((await api.waitTask(upid)).exitstatus).toBe('OK');
    const config = await api.data<Record<string, unknown>>('GET', vm(111, '/config'));
    expect(config).toMatchObject({ ciuser: 'deploy', cipassword: '**********', sshkeys: encoded, ipconfig0: 'ip=10.20.0.5/24,gw=10.20.0.1', cores: 4, memory: '4096' });
    expect(config.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr1$/);
    await run('POST', vm(111, '/status/start'));
    expect(guests.spec(111)).toMatchObject({ user: 'deploy', password: 's3cret', sshKeys: keys, ipConfig: 'ip=10.20.0.5/24,gw=10.20.0.1', nameserver: '1.1.1.1', cores: 4, memoryMiB: 4096 });
  });

  it('refuses sshkeys that are not URL-encoded with PVE\'s urlencoded format error', async () => {
    await clone(114);
    const plain = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG+x/abc+def= ops@keelson';
    const reply = await api.call('PUT', vm(114, '/config'), { sshkeys: plain });
    expect([reply.status, reply.reason]).toEqual([400, 'Parameter verification failed.']);
    expect(reply.body?.errors).toEqual({ sshkeys: `invalid format - invalid urlencoded string: ${plain}\n` });
    // Half-encoded is not encoded either: `+` and `=` must be escaped too.
    const partly = await api.call('PUT', vm(114, '/config'), { sshkeys: plain.replace(/ /g, '%20') });
    expect(partly.body?.errors?.sshkeys).toMatch(/^invalid format - invalid urlencoded string: /);
    expect((await api.data<Record<string, unknown>>('GET', vm(114, '/config'))).sshkeys).toBeUndefined();
  });

  it('rejects keys that are not valid once decoded', async () => {
    await clone(112);
    const reply = await api.call('PUT', vm(112, '/config'), { sshkeys: encodeURIComponent('not a key') });
    expect(reply.status).toBe(400);
    expect(reply.body?.errors?.sshkeys).toMatch(/^invalid format - invalid SSH key/);
  });

  it('fails a POST config task (not the request) on a stale digest', async () => {
    await clone(113);
    const status = await run('POST', vm(113, '/config'), { cores: 2, digest: '0'.repeat(40) });
    expect(status.exitstatus).toBe('detected modified configuration - file changed by other user? Try again.');
  });
});

describe('resize', () => {
  it('grows by a delta or to an absolute size and refuses to shrink', async () => {
    await clone(120, { full: 1 });
    expect((await run('PUT', vm(120, '/resize'), { disk: 'scsi0', size: '+10G' })).exitstatus).toBe('OK');
    expect((await api.data<Record<string, string>>('GET', vm(120, '/config'))).scsi0).toBe('local-lvm:vm-120-disk-0,size=12G');
    expect((await run('PUT', vm(120, '/resize'), { disk: 'scsi0', size: '20G' })).exitstatus).toBe('OK');
    expect((await api.data<Record<string, string>>('GET', vm(120, '/config'))).scsi0).toBe('local-lvm:vm-120-disk-0,size=20G');
    expect((await run('PUT', vm(120, '/resize'), { disk: 'scsi0', size: '8G' })).exitstatus).toBe('shrinking disks is not supported');
    expect((await run('PUT', vm(120, '/resize'), { disk: 'scsi1', size: '+1G' })).exitstatus).toBe("disk 'scsi1' does not exist");
    const bad = await api.call('PUT', vm(120, '/resize'), { disk: 'scsi0', size: 'ten' });
    expect(bad.body?.errors).toEqual({ size: 'value does not match the regex pattern' });
  });
});

describe('power and destroy', () => {
  it('starts, reports running, fails a second start inside the task, and stops', async () => {
    await clone(130);
    expect((await run('POST', vm(130, '/status/start'))).exitstatus).toBe('OK');
    expect(await api.data('GET', vm(130, '/status/current'))).toMatchObject({ status: 'running', qmpstatus: 'running', agent: 1 });
    const second = await api.call('POST', vm(130, '/status/start'));
    expect(second.status).toBe(200);
    expect((await api.waitTask(second.body!.data as string)).exitstatus).toBe('VM 130 already running');
    expect((await run('POST', vm(130, '/status/reboot'))).exitstatus).toBe('OK');
    expect((await run('POST', vm(130, '/status/shutdown'))).exitstatus).toBe('OK');
    expect((await run('POST', vm(130, '/status/shutdown'))).exitstatus).toBe('VM 130 not running');
  });

  it('refuses to reboot a stopped VM synchronously, with no task', async () => {
    await clone(133);
    const tasksBefore = (await sim.control.state()).tasks.length;
    const reply = await api.call('POST', vm(133, '/status/reboot'));
    expect([reply.status, reply.reason]).toEqual([500, 'VM 133 not running']);
    expect(reply.body).toEqual({ data: null, message: 'VM 133 not running\n' });
    expect((await sim.control.state()).tasks).toHaveLength(tasksBefore);
  });

  it('refuses to destroy a running VM and destroys a stopped one', async () => {
    await clone(131);
    await run('POST', vm(131, '/status/start'));
    const refused = await api.call('DELETE', vm(131), { purge: 1 });
    expect([refused.status, refused.reason]).toEqual([500, 'VM 131 is running - destroy failed']);
    await run('POST', vm(131, '/status/stop'));
    expect((await run('DELETE', `${vm(131)}/`, { purge: 1, 'destroy-unreferenced-disks': 1 })).exitstatus).toBe('OK');
    const gone = await api.call('GET', vm(131, '/status/current'));
    expect([gone.status, gone.reason]).toEqual([500, "Configuration file 'nodes/pve/qemu-server/131.conf' does not exist"]);
    expect(await guests.list()).not.toContain(131);
  });

  it("refuses to destroy a template that linked clones use", async () => {
    await clone(132);
    expect((await run('DELETE', vm(9000))).exitstatus).toBe("base volume 'local-lvm:base-9000-disk-0' is still in use by linked cloned VM 132");
  });
});

describe('guest agent and metrics', () => {
  it('answers 500 until the agent runs, then lists interfaces', async () => {
    await clone(140);
    await api.data('PUT', vm(140, '/config'), { ipconfig0: 'ip=192.168.7.20/24,gw=192.168.7.1' });
    const stopped = await api.call('GET', vm(140, '/agent/network-get-interfaces'));
    expect([stopped.status, stopped.reason]).toEqual([500, 'VM 140 is not running']);
    await run('POST', vm(140, '/status/start'));
    const { result } = await api.data<{ result: Array<{ name: string; 'ip-addresses': Array<{ 'ip-address': string; prefix: number }> }> }>('GET', vm(140, '/agent/network-get-interfaces'));
    expect(result.map((iface) => iface.name)).toEqual(['lo', 'eth0']);
    expect(result[1]!['ip-addresses'][0]).toEqual({ 'ip-address': '192.168.7.20', 'ip-address-type': 'ipv4', prefix: 24 });
    await api.data('PUT', vm(140, '/config'), { agent: '0' });
    const disabled = await api.call('GET', vm(140, '/agent/network-get-interfaces'));
    expect(disabled.reason).toBe('No QEMU guest agent configured');
  });

  it('answers "agent is not running" while the guest boots', async () => {
    const slow = await startTestSim({ guests: new MemoryGuests({ bootDelayMs: 60_000 }) });
    try {
      const slowApi = apiCaller(slow);
      await slowApi.waitTask(await slowApi.data<string>('POST', vm(9000, '/clone'), { newid: 141 }));
      await slowApi.waitTask(await slowApi.data<string>('POST', vm(141, '/status/start')));
      const reply = await slowApi.call('GET', vm(141, '/agent/network-get-interfaces'));
      expect([reply.status, reply.reason]).toEqual([500, 'QEMU guest agent is not running']);
    } finally {
      await slow.dispose();
    }
  });

  it('serves 70 rrd points 60 s apart for the hour', async () => {
    await clone(142);
    await run('POST', vm(142, '/status/start'));
    const points = await api.data<Array<{ time: number; cpu?: number }>>('GET', vm(142, '/rrddata'), { timeframe: 'hour', cf: 'AVERAGE' });
    expect(points).toHaveLength(70);
    expect(points[1]!.time - points[0]!.time).toBe(60);
    expect(points[0]).toEqual({ time: points[0]!.time });
    expect(points.at(-1)!.cpu).toBeTypeOf('number');
  });
});

describe('snapshots', () => {
  it('creates, lists, rolls back and deletes', async () => {
    await clone(150);
    expect((await run('POST', vm(150, '/snapshot'), { snapname: 'before', description: 'clean' })).exitstatus).toBe('OK');
    await api.data('PUT', vm(150, '/config'), { cores: 8 });
    const list = await api.data<Array<{ name: string; parent?: string }>>('GET', vm(150, '/snapshot'));
    expect(list.map((item) => item.name)).toEqual(['before', 'current']);
    expect(list[1]!.parent).toBe('before');
    const duplicate = await api.call('POST', vm(150, '/snapshot'), { snapname: 'before' });
    expect(duplicate.reason).toBe("snapshot name 'before' already used");
    expect((await run('POST', vm(150, '/snapshot/before/rollback'))).exitstatus).toBe('OK');
    expect((await api.data<Record<string, unknown>>('GET', vm(150, '/config'))).cores).toBe(2);
    expect((await run('DELETE', vm(150, '/snapshot/before'))).exitstatus).toBe('OK');
    expect((await api.data<Array<{ name: string }>>('GET', vm(150, '/snapshot'))).map((item) => item.name)).toEqual(['current']);
  });

  it('answers a rollback to, or deletion of, an unknown snapshot with a task that fails', async () => {
    await clone(151);
    for (const [method, path, type] of [
      ['POST', vm(151, '/snapshot/nope/rollback'), 'qmrollback'],
      ['DELETE', vm(151, '/snapshot/nope'), 'qmdelsnapshot'],
    ] as const) {
      const reply = await api.call(method, path);
      expect(reply.status).toBe(200);
      const upid = reply.body!.data as string;
      expect(upid).toContain(`:${type}:151:`);
      expect((await api.waitTask(upid)).exitstatus).toBe("snapshot 'nope' does not exist");
      const log = await api.data<Array<{ t: string }>>('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`);
      expect(log.at(-1)!.t).toBe("TASK ERROR: snapshot 'nope' does not exist");
    }
    // No lock was left behind.
    expect((await api.data<Record<string, unknown>>('GET', vm(151, '/config'))).lock).toBeUndefined();
  });
});

describe('fault injection', () => {
  it('fails a matching task midway and removes the half-made clone', async () => {
    await sim.control.addFault({ match: { taskType: 'qmclone', vmid: 160 }, action: { kind: 'task-failure', message: 'storage migration failed: io error', atPercent: 50 } });
    const upid = await api.data<string>('POST', vm(9000, '/clone'), { newid: 160, full: 1 });
    const status = await api.waitTask(upid);
    expect(status.exitstatus).toBe('storage migration failed: io error');
    const log = await api.data<Array<{ t: string }>>('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`, { limit: 500 });
    expect(log.at(-1)!.t).toBe('TASK ERROR: storage migration failed: io error');
    expect(log.some((line) => line.t.includes('(40.00%)'))).toBe(true);
    expect(log.some((line) => line.t.includes('(100.00%)'))).toBe(false);
    expect((await api.call('GET', vm(160, '/config'))).status).toBe(500);
    // Fired once: the next clone succeeds.
    await clone(160, { full: 1 });
  });

  it('answers matching requests with an injected HTTP error, `times` times', async () => {
    await sim.control.addFault({ match: { method: 'GET', path: '/nodes/*/qemu/*/status/current' }, action: { kind: 'http-error', status: 503, message: 'Service Unavailable' }, times: 2 });
    expect((await api.call('GET', vm(9000, '/status/current'))).status).toBe(503);
    expect((await api.call('GET', vm(9000, '/status/current'))).reason).toBe('Service Unavailable');
    expect((await api.call('GET', vm(9000, '/status/current'))).status).toBe(200);
  });

  it('injects lock timeouts as a 500 and as a task exit status', async () => {
    await sim.control.addFault({ match: { method: 'PUT', path: '/nodes/pve/qemu/9000/config' }, action: { kind: 'lock-timeout' } });
    const put = await api.call('PUT', vm(9000, '/config'), { description: 'x' });
    expect([put.status, put.reason]).toEqual([500, "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"]);
    await clone(161);
    await sim.control.addFault({ match: { taskType: 'qmstart' }, action: { kind: 'lock-timeout' } });
    expect((await run('POST', vm(161, '/status/start'))).exitstatus).toBe("can't lock file '/var/lock/qemu-server/lock-161.conf' - got timeout");
  });

  it('takes a node offline for matching requests only', async () => {
    await sim.control.addFault({ match: { node: 'pve2' }, action: { kind: 'node-offline' }, times: 'always' });
    expect((await api.call('GET', '/nodes/pve2/status')).status).toBe(595);
    expect((await api.call('GET', '/nodes/pve/status')).status).toBe(200);
    expect(await sim.control.faults()).toHaveLength(1);
    await sim.control.clearFaults();
    expect((await api.call('GET', '/nodes/pve2/status')).status).toBe(200);
  });

  it('drops the connection after the request took effect', async () => {
    await sim.control.addFault({ match: { method: 'POST', path: '/nodes/pve/qemu/9000/clone' }, action: { kind: 'drop-connection' } });
    await expect(api.call('POST', vm(9000, '/clone'), { newid: 162 })).rejects.toThrow();
    await sim.control.waitIdle();
    expect((await sim.control.state()).guests.map((guest) => guest.vmid)).toContain(162);
  });
});

describe('time scale', () => {
  it('stretches task durations', async () => {
    await sim.control.setTimeScale(0.01);
    let started = Date.now();
    await clone(170, { full: 1 });
    const fast = Date.now() - started;
    await sim.control.setTimeScale(0.1);
    started = Date.now();
    await clone(171, { full: 1 });
    const slow = Date.now() - started;
    expect(slow).toBeGreaterThan(500);
    expect(fast).toBeLessThan(slow / 3);
  });
});
