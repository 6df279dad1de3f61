import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUpid } from './tasks';
import { apiCaller, ROOT, startTestSim, TOKEN_ID, TOKEN_SECRET, type ApiCaller, type TestSim } from './testing';

let sim: TestSim;
let api: ApiCaller;

beforeAll(async () => {
  sim = await startTestSim();
  api = apiCaller(sim);
});
afterAll(async () => {
  await sim.dispose();
});

describe('wire format', () => {
  it('wraps results in {"data":…} with the exact content type', async () => {
    const reply = await api.call('GET', '/version');
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe('application/json;charset=UTF-8');
    expect(reply.body).toEqual({ data: { version: '8.3.2', release: '8.3', repoid: expect.any(String), console: 'xtermjs' } });
  });

  it('answers 501 with the method and path for unknown paths', async () => {
    const reply = await api.call('GET', '/nodes/pve/nonsense');
    expect(reply.status).toBe(501);
    expect(reply.reason).toBe("Method 'GET /nodes/pve/nonsense' not implemented");
  });

  it('puts the message of a 500 in the reason phrase and the body', async () => {
    const reply = await api.call('GET', '/nodes/pve/qemu/4242/config');
    expect(reply.status).toBe(500);
    expect(reply.reason).toBe("Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist");
    expect(reply.body).toEqual({ data: null, message: "Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist\n" });
  });

  it('accepts escaped and trailing-slash paths alike', async () => {
    const plain = await api.call('GET', '/nodes/pve/qemu/9000/config');
    const slash = await api.call('GET', '/nodes/pve/qemu/9000/config/');
    const escaped = await api.call('GET', '/nodes/%70ve/qemu/9000/config');
    expect(slash.body).toEqual(plain.body);
    expect(escaped.body).toEqual(plain.body);
  });
});

describe('parameter verification', () => {
  it('reports each bad parameter, unknown ones included', async () => {
    const reply = await api.call('PUT', '/nodes/pve/qemu/9000/config', { cores: 'many', memory: '8', bogus: '1', onboot: 'true' });
    expect(reply.status).toBe(400);
    expect(reply.reason).toBe('Parameter verification failed.');
    expect(reply.body?.data).toBeNull();
    expect(reply.body?.errors).toEqual({
      cores: "type check ('integer') failed - got 'many'",
      memory: 'invalid format - format error memory.current: value must have a minimum value of 16\n',
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
      onboot: "type check ('boolean') failed - got 'true'",
    });
  });

  it('names missing required parameters and path parameters of the wrong type', async () => {
    const missing = await api.call('POST', '/nodes/pve/qemu/9000/clone', {});
    expect(missing.body?.errors).toEqual({ newid: 'property is missing and it is not optional' });
    const badVmid = await api.call('GET', '/nodes/pve/qemu/abc/config');
    expect(badVmid.status).toBe(400);
    expect(badVmid.body?.errors).toEqual({ vmid: "type check ('integer') failed - got 'abc'" });
    const low = await api.call('GET', '/cluster/nextid', { vmid: 5 });
    expect(low.body?.errors).toEqual({ vmid: 'invalid format - value does not look like a valid VM ID\n' });
  });

  it('checks the pve-vmid format of newid before its range, with the newline PVE keeps', async () => {
    const reply = await api.call('POST', '/nodes/pve/qemu/9000/clone', { newid: 99 });
    expect([reply.status, reply.reason]).toEqual([400, 'Parameter verification failed.']);
    expect(reply.body?.errors).toEqual({ newid: 'invalid format - value does not look like a valid VM ID\n' });
    const leadingZero = await api.call('POST', '/nodes/pve/qemu/9000/clone', { newid: '0150' });
    expect(leadingZero.body?.errors).toEqual({ newid: 'invalid format - value does not look like a valid VM ID\n' });
    const tooBig = await api.call('POST', '/nodes/pve/qemu/9000/clone', { newid: 1_000_000_000 });
    expect(tooBig.body?.errors).toEqual({ newid: 'invalid format - value does not look like a valid VM ID\n' });
    // Range and length checks carry no newline, as PVE adds them without one.
    const name = await api.call('POST', '/nodes/pve/qemu/9000/snapshot', { snapname: 'x'.repeat(41) });
    expect(name.body?.errors).toEqual({ snapname: 'value may only be 40 characters long' });
  });

  it('takes JSON bodies too, and repeated keys as lists', async () => {
    const created = await api.data<string>('POST', '/nodes/pve/qemu/9000/clone', { newid: 150, full: 1 });
    await api.waitTask(created);
    const json = await api.call('PUT', '/nodes/pve/qemu/150/config', { cores: 3, description: 'from json' }, { json: true });
    expect(json.status).toBe(200);
    expect(json.body).toEqual({ data: null });
    await api.data('PUT', '/nodes/pve/qemu/150/config', { delete: ['description', 'serial0'] });
    const config = await api.data<Record<string, unknown>>('GET', '/nodes/pve/qemu/150/config');
    expect(config.cores).toBe(3);
    expect(config.description).toBeUndefined();
    expect(config.serial0).toBeUndefined();
  });

  it('echoes a free nextid as a string and refuses a taken one', async () => {
    expect(typeof (await api.data('GET', '/cluster/nextid'))).toBe('number');
    expect(await api.data('GET', '/cluster/nextid', { vmid: 777 })).toBe('777');
    const taken = await api.call('GET', '/cluster/nextid', { vmid: 9000 });
    expect(taken.status).toBe(400);
    expect(taken.body?.errors).toEqual({ vmid: 'VM 9000 already exists' });
  });
});

describe('authentication', () => {
  it('issues tickets in PVE format, valid with a CSRF token on writes', async () => {
    const { ticket, csrf } = await api.login();
    expect(ticket).toMatch(/^PVE:root@pam:[0-9A-F]{8}::\S+$/);
    expect(csrf).toMatch(/^[0-9A-F]{8}:\S+$/);
    const read = await api.call('GET', '/nodes', {}, { auth: { ticket } });
    expect(read.status).toBe(200);
    const writeWithout = await api.call('PUT', '/nodes/pve/qemu/9000/config', { description: 'x' }, { auth: { ticket } });
    expect(writeWithout.status).toBe(401);
    expect(writeWithout.reason).toBe('Permission denied - invalid csrf token');
    expect(writeWithout.text).toBe('');
    const writeWith = await api.call('PUT', '/nodes/pve/qemu/9000/config', { description: 'x' }, { auth: { ticket, csrf } });
    expect(writeWith.status).toBe(200);
  });

  it('accepts API tokens without CSRF, with the token id in UPIDs', async () => {
    const upid = await api.data<string>('POST', '/nodes/pve/qemu/9000/clone', { newid: 151 });
    expect(parseUpid(upid)?.user).toBe(TOKEN_ID);
    const status = await api.waitTask(upid);
    expect(status.exitstatus).toBe('OK');
  });

  it('answers 401 with an empty body for missing, forged and wrong credentials', async () => {
    const none = await api.call('GET', '/nodes', {}, { auth: undefined });
    expect([none.status, none.reason, none.text, none.contentType]).toEqual([401, 'No ticket', '', null]);
    const forged = await api.call('GET', '/nodes', {}, { auth: { ticket: 'PVE:root@pam:65000000::Zm9yZ2Vk' } });
    expect([forged.status, forged.reason]).toEqual([401, 'permission denied - invalid PVE ticket']);
    const badToken = await api.call('GET', '/nodes', {}, { auth: { token: `${TOKEN_ID}=00000000-0000-0000-0000-000000000000` } });
    expect([badToken.status, badToken.reason, badToken.text]).toEqual([401, 'invalid token value!', '']);
  });

  it('refuses a wrong password with 401 and {"data":null}', async () => {
    const reply = await api.call('POST', '/access/ticket', { username: ROOT.userid, password: 'wrong' }, { auth: undefined });
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ data: null });
  });

  it('refuses changes by read-only users with 403 naming path and privilege', async () => {
    const { ticket, csrf } = await api.login({ userid: 'auditor@pve', password: 'auditor1' });
    const read = await api.call('GET', '/nodes/pve/qemu/9000/config', {}, { auth: { ticket } });
    expect(read.status).toBe(200);
    const write = await api.call('PUT', '/nodes/pve/qemu/9000/config', { cores: 4 }, { auth: { ticket, csrf } });
    expect(write.status).toBe(403);
    expect(write.reason).toBe('Permission check failed (/vms/9000, VM.Config.CPU)');
  });

  it('adds users and tokens through the control API', async () => {
    await sim.control.addUser({ userid: 'ops@pve', password: 'ops-pass' });
    const token = await sim.control.addToken({ tokenid: 'ops@pve!ci' });
    expect(token.secret).toMatch(/^[0-9a-f-]{36}$/);
    const reply = await api.call('GET', '/version', {}, { auth: { token: `ops@pve!ci=${token.secret}` } });
    expect(reply.status).toBe(200);
  });

  it('delays 401s when configured', async () => {
    const slow = await startTestSim({ authFailureDelayMs: 300 });
    try {
      const started = Date.now();
      const reply = await apiCaller(slow).call('GET', '/nodes', {}, { auth: { token: `${TOKEN_ID}=${TOKEN_SECRET.replace('0', '1')}` } });
      expect(reply.status).toBe(401);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      await slow.dispose();
    }
  });
});

describe('tasks', () => {
  it('formats UPIDs like PVE and reports status and log', async () => {
    const upid = await api.data<string>('POST', '/nodes/pve/qemu/9000/clone', { newid: 152, name: 'upid-check' });
    expect(upid).toMatch(/^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:root@pam!keelson:$/);
    const parsed = parseUpid(upid)!;
    const running = await api.data<Record<string, unknown>>('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`);
    expect(running).toMatchObject({ upid, node: 'pve', pid: parsed.pid, pstart: parsed.pstart, starttime: parsed.starttime, type: 'qmclone', id: '9000', status: 'running' });
    expect(running.exitstatus).toBeUndefined();
    await api.waitTask(upid);
    const log = await api.call('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`, { start: 0, limit: 50 });
    const lines = log.body?.data as Array<{ n: number; t: string }>;
    expect(lines[0]).toEqual({ n: 1, t: 'create linked clone of drive scsi0 (local-lvm:base-9000-disk-0)' });
    expect(lines.at(-1)).toEqual({ n: lines.length, t: 'TASK OK' });
    expect(log.body?.total).toBe(lines.length);
    const page = await api.data<Array<{ n: number }>>('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`, { start: 1, limit: 1 });
    expect(page).toEqual([{ n: 2, t: expect.any(String) }]);
    const list = await api.data<Array<{ upid: string; status?: string }>>('GET', '/nodes/pve/tasks', { vmid: 9000 });
    expect(list.find((task) => task.upid === upid)?.status).toBe('OK');
  });

  it('refuses a malformed UPID', async () => {
    const reply = await api.call('GET', '/nodes/pve/tasks/UPID:nope/status');
    expect(reply.status).toBe(500);
    expect(reply.reason).toBe("unable to parse worker upid 'UPID:nope'");
  });
});

describe('nodes and storage', () => {
  it('lists nodes with capacity and storages with content', async () => {
    const nodes = await api.data<Array<Record<string, unknown>>>('GET', '/nodes');
    expect(nodes).toEqual([expect.objectContaining({ node: 'pve', status: 'online', maxcpu: 16, maxmem: 64 * 1024 ** 3, ssl_fingerprint: sim.fingerprint })]);
    const status = await api.data<{ memory: { total: number }; cpuinfo: { cpus: number } }>('GET', '/nodes/pve/status');
    expect(status.cpuinfo.cpus).toBe(16);
    const storages = await api.data<Array<{ storage: string; content: string }>>('GET', '/nodes/pve/storage');
    expect(storages.map((storage) => storage.storage)).toEqual(['local', 'local-lvm']);
    const templates = await api.data<Array<{ volid: string }>>('GET', '/nodes/pve/storage/local/content', { content: 'vztmpl' });
    expect(templates.map((item) => item.volid)).toContain('local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst');
    const resources = await api.data<Array<{ vmid: number; template: number; type: string }>>('GET', '/cluster/resources', { type: 'vm' });
    expect(resources.find((item) => item.vmid === 9000)).toMatchObject({ type: 'qemu', template: 1, name: 'debian-12-cloud' });
  });

  it('answers 595 for an offline node and lists it as offline', async () => {
    await sim.control.setNodeOnline('pve', false);
    try {
      const nodes = await api.data<Array<Record<string, unknown>>>('GET', '/nodes');
      expect(nodes).toEqual([{ node: 'pve', id: 'node/pve', type: 'node', status: 'offline' }]);
      const reply = await api.call('GET', '/nodes/pve/qemu/9000/config');
      expect([reply.status, reply.reason, reply.text]).toEqual([595, 'No route to host', '']);
    } finally {
      await sim.control.setNodeOnline('pve', true);
    }
  });
});
