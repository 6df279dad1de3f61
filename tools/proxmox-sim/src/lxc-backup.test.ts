import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryGuests } from './guests/memory';
import { apiCaller, startTestSim, type ApiCaller, type TestSim } from './testing';

let sim: TestSim;
let api: ApiCaller;
const guests = new MemoryGuests();
const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlainLxcKey ops@keelson';

beforeAll(async () => {
  sim = await startTestSim({ guests });
  api = apiCaller(sim);
});
afterAll(async () => {
  await sim.dispose();
});

async function run(method: string, path: string, params: Record<string, string | number> = {}) {
  return api.waitTask(await api.data<string>(method, path, params));
}

describe('containers', () => {
  it('creates and starts a container with plain keys and a static address', async () => {
    const upid = await api.data<string>('POST', '/nodes/pve/lxc', {
      vmid: 200,
      ostemplate: TEMPLATE,
      hostname: 'db-1',
      password: 'rootpass',
      'ssh-public-keys': KEY,
      net0: 'name=eth0,bridge=vmbr0,ip=10.30.0.7/24,gw=10.30.0.1',
      rootfs: 'local-lvm:8',
      cores: 2,
      memory: 1024,
      unprivileged: 1,
      start: 1,
    });
    expect(upid).toContain(':vzcreate:200:');
    expect((await sim.control.state()).guests.find((guest) => guest.vmid === 200)?.lock).toBe('create');
    expect((await api.waitTask(upid)).exitstatus).toBe('OK');

    const config = await api.data<Record<string, unknown>>('GET', '/nodes/pve/lxc/200/config');
    expect(config).toMatchObject({ hostname: 'db-1', cores: 2, memory: 1024, unprivileged: 1, ostype: 'debian', rootfs: 'local-lvm:vm-200-disk-0,size=8G' });
    expect(config.net0).toMatch(/^name=eth0,bridge=vmbr0,ip=10\.30\.0\.7\/24,gw=10\.30\.0\.1,hwaddr=BC:24:11:/);
    expect(config.password).toBeUndefined();
    expect(guests.spec(200)).toMatchObject({ kind: 'lxc', name: 'db-1', password: 'rootpass', sshKeys: [KEY], ipConfig: 'ip=10.30.0.7/24,gw=10.30.0.1', cores: 2, memoryMiB: 1024 });

    const interfaces = await api.data<Array<{ name: string; inet?: string }>>('GET', '/nodes/pve/lxc/200/interfaces');
    expect(interfaces.find((iface) => iface.name === 'eth0')?.inet).toBe('10.30.0.7/24');
    expect(await api.data('GET', '/nodes/pve/lxc/200/status/current')).toMatchObject({ status: 'running', type: 'lxc' });
  });

  it('refuses a duplicate vmid and a missing template', async () => {
    const duplicate = await api.call('POST', '/nodes/pve/lxc', { vmid: 200, ostemplate: TEMPLATE });
    expect([duplicate.status, duplicate.reason]).toEqual([500, "CT 200 already exists on node 'pve'"]);
    const missing = await api.call('POST', '/nodes/pve/lxc', { vmid: 201, ostemplate: 'local:vztmpl/nope.tar.zst' });
    expect(missing.reason).toBe("volume 'local:vztmpl/nope.tar.zst' does not exist");
  });

  it('changes config synchronously and refuses to destroy while running', async () => {
    await api.data('PUT', '/nodes/pve/lxc/200/config', { memory: 2048, delete: 'swap' });
    expect((await api.data<Record<string, unknown>>('GET', '/nodes/pve/lxc/200/config')).memory).toBe(2048);
    const refused = await api.call('DELETE', '/nodes/pve/lxc/200');
    expect([refused.status, refused.reason]).toEqual([500, 'unable to destroy CT 200 - container is running']);
    expect((await run('POST', '/nodes/pve/lxc/200/status/shutdown')).exitstatus).toBe('OK');
    const stopped = await api.call('GET', '/nodes/pve/lxc/200/interfaces');
    expect(stopped.reason).toBe('CT 200 not running');
  });
});

describe('backups', () => {
  it('backs up into storage content and deletes the archive again', async () => {
    const upid = await api.data<string>('POST', '/nodes/pve/vzdump', { vmid: '200', storage: 'local', mode: 'snapshot', compress: 'zstd' });
    expect(upid).toContain(':vzdump:200:');
    expect((await sim.control.state()).guests.find((guest) => guest.vmid === 200)?.lock).toBe('backup');
    expect((await api.waitTask(upid)).exitstatus).toBe('OK');
    const backups = await api.data<Array<{ volid: string; vmid: number; format: string; subtype: string }>>('GET', '/nodes/pve/storage/local/content', { content: 'backup' });
    expect(backups).toHaveLength(1);
    expect(backups[0]!.volid).toMatch(/^local:backup\/vzdump-lxc-200-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.tar\.zst$/);
    expect(backups[0]).toMatchObject({ vmid: 200, format: 'tar.zst', subtype: 'lxc' });

    // proxmox-api escapes the `/` of the volume id; both spellings reach the volume.
    const del = await api.data<string>('DELETE', `/nodes/pve/storage/local/content/${encodeURIComponent(backups[0]!.volid)}`);
    expect((await api.waitTask(del)).exitstatus).toBe('OK');
    expect(await api.data('GET', '/nodes/pve/storage/local/content', { content: 'backup' })).toEqual([]);
  });

  it('names QEMU archives vzdump-qemu-<vmid>-<date>.vma.zst', async () => {
    await run('POST', '/nodes/pve/qemu/9000/clone', { newid: 210 });
    expect((await run('POST', '/nodes/pve/vzdump', { vmid: 210, storage: 'local', compress: 'zstd' })).exitstatus).toBe('OK');
    const backups = await api.data<Array<{ volid: string }>>('GET', '/nodes/pve/storage/local/content', { content: 'backup', vmid: 210 });
    expect(backups.map((item) => item.volid)).toEqual([expect.stringMatching(/^local:backup\/vzdump-qemu-210-[\d_-]+\.vma\.zst$/)]);
    const refused = await api.call('POST', '/nodes/pve/vzdump', { vmid: 210, storage: 'local-lvm' });
    expect(refused.reason).toBe("storage 'local-lvm' does not support backups");
  });
});
