import proxmoxApi from 'proxmox-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryGuests } from './guests/memory';
import { ROOT, startTestSim, TOKEN_ID, TOKEN_SECRET, type TestSim } from './testing';

/**
 * The unmodified `proxmox-api` client against the simulator, over TLS verified with the
 * simulator's CA (its `fetch` option gets the pinned fetch; certificate checks stay on).
 */

let sim: TestSim;
const guests = new MemoryGuests();

beforeAll(async () => {
  sim = await startTestSim({ guests });
});
afterAll(async () => {
  await sim.dispose();
});

function client(auth: { tokenID: string; tokenSecret: string } | { username: string; password: string }) {
  const url = new URL(sim.url);
  return proxmoxApi({ host: url.hostname, port: Number(url.port), schema: 'https', ...auth, fetch: sim.fetch as never });
}

async function waitTask(px: ReturnType<typeof client>, upid: string): Promise<string | undefined> {
  const node = upid.split(':')[1]!;
  for (;;) {
    const status = await px.nodes.$(node).tasks.$(upid).status.$get();
    if (status.status === 'stopped') return status.exitstatus;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('proxmox-api client', () => {
  it('runs clone → config → resize → start → agent → stop → delete with a token', async () => {
    const px = client({ tokenID: TOKEN_ID, tokenSecret: TOKEN_SECRET });
    const vmid = Number(await px.cluster.nextid.$get());
    const node = px.nodes.$('pve');
    const vm = node.qemu.$(vmid);

    expect(await waitTask(px, await node.qemu.$(9000).clone.$post({ newid: vmid, name: 'app-1', full: true }))).toBe('OK');
    const config = await vm.config.$get();
    expect(config.name).toBe('app-1');
    expect(config.digest).toMatch(/^[0-9a-f]{40}$/);

    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeelsonTestKey+with/plus= ops@keelson';
    await vm.config.$put({
      cores: 2,
      memory: '2048',
      ciuser: 'keelson',
      sshkeys: encodeURIComponent(key),
      ipconfig0: 'ip=10.50.0.10/24,gw=10.50.0.1',
      digest: config.digest,
    });
    expect((await vm.config.$get()).sshkeys).toBe(encodeURIComponent(key));

    expect(await waitTask(px, (await vm.resize.$put({ disk: 'scsi0', size: '+8G' })) as unknown as string)).toBe('OK');
    expect((await vm.config.$get()).scsi0).toBe(`local-lvm:vm-${vmid}-disk-0,size=10G`);

    expect(await waitTask(px, await vm.status.start.$post())).toBe('OK');
    expect((await vm.status.current.$get()).status).toBe('running');
    expect(guests.spec(vmid)?.sshKeys).toEqual([key]);

    const agent = (await vm.agent['network-get-interfaces'].$get()) as { result: Array<{ name: string; 'ip-addresses': Array<{ 'ip-address': string }> }> };
    expect(agent.result.find((iface) => iface.name === 'eth0')?.['ip-addresses'][0]?.['ip-address']).toBe('10.50.0.10');

    const resources = await px.cluster.resources.$get({ type: 'vm' });
    expect(resources.find((item) => item.vmid === vmid)).toMatchObject({ status: 'running', node: 'pve', name: 'app-1' });

    await expect(vm.$delete({ purge: true })).rejects.toThrow(`VM ${vmid} is running - destroy failed`);
    expect(await waitTask(px, await vm.status.stop.$post())).toBe('OK');
    expect(await waitTask(px, await vm.$delete({ purge: true, 'destroy-unreferenced-disks': true }))).toBe('OK');
    await expect(vm.status.current.$get()).rejects.toThrow(/500 Configuration file 'nodes\/pve\/qemu-server\/\d+\.conf' does not exist/);
  });

  it('logs in with a password and sends the CSRF token on writes', async () => {
    const px = client({ username: ROOT.userid, password: ROOT.password });
    const vmid = Number(await px.cluster.nextid.$get());
    expect(await waitTask(px, await px.nodes.$('pve').qemu.$(9000).clone.$post({ newid: vmid }))).toBe('OK');
    await px.nodes.$('pve').qemu.$(vmid).config.$put({ description: 'via ticket' });
    expect((await px.nodes.$('pve').qemu.$(vmid).config.$get()).description).toBe('via ticket');
  });

  it('retries a POST after a dropped connection and meets "already exists"', async () => {
    const px = client({ tokenID: TOKEN_ID, tokenSecret: TOKEN_SECRET });
    const vmid = Number(await px.cluster.nextid.$get());
    await sim.control.addFault({ match: { method: 'POST', path: '/nodes/pve/qemu/9000/clone' }, action: { kind: 'drop-connection', when: 'after' } });
    await expect(px.nodes.$('pve').qemu.$(9000).clone.$post({ newid: vmid })).rejects.toThrow(`500 unable to create VM ${vmid}: config file already exists`);
    await sim.control.waitIdle();
    const state = await sim.control.state();
    expect(state.guests.find((guest) => guest.vmid === vmid)).toMatchObject({ status: 'stopped' });
    expect(state.guests.find((guest) => guest.vmid === vmid)?.lock).toBeUndefined();
  });

  it('reports parameter errors in the thrown message', async () => {
    const px = client({ tokenID: TOKEN_ID, tokenSecret: TOKEN_SECRET });
    await expect(px.nodes.$('pve').qemu.$(9000).config.$put({ cores: 0 })).rejects.toThrow(/400 Parameter verification failed\.: .*"cores":"value must have a minimum value of 1"/);
  });
});
