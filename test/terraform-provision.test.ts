import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn, TestPlatform } from './platform';
import { startProxmoxHarness, TEMPLATE_VMID, TOKEN_ID, type ProxmoxHarness } from './proxmox-harness';
import { waitForRun } from './runs';
import { tofuToolchain, type StackRun } from './terraform-harness';

/**
 * The second provisioning path: a VM made by OpenTofu with Keelson's `proxmox-vm` module (the
 * simulator's provider standing in for bpg/proxmox), then configured by the same Ansible playbook,
 * through the API and the platform's own core worker, on Docker-backed guests.
 */
let h: ProxmoxHarness;
let p: TestPlatform;
let operator: SignedIn;
let clusterId: string;

interface Guest {
  id: string;
  name: string;
  state: string;
  vmid: number | null;
  node: string | null;
  ip: string | null;
  lastError: string | null;
  workflowId: string;
}

async function call<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const res = await p.request(path, { ...init, headers: operator.headers });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const guestOf = async (id: string) => (await call<Guest>(`/api/proxmox/guests/${id}`)).body;
const simGuests = async () => (await h.sim.control.state()).guests.filter((g) => !g.template);
const stackOfGuest = async (guestId: string) =>
  (await call<{ items: Array<{ id: string; name: string; outputs: Record<string, { value: unknown }> }> }>('/api/terraform/stacks')).body.items.find((s) => s.name === `guest-${guestId}`);
const stackRuns = async (stackId: string) => (await call<{ items: Array<StackRun & { kind: string }> }>(`/api/terraform/stacks/${stackId}/runs`)).body.items;
const vmBody = (name: string, extra: Record<string, unknown> = {}) => ({ kind: 'qemu', clusterId, name, cores: 1, memoryMiB: 512, diskGiB: 10, sshKeys: [h.adminKey.publicKey], user: 'alice', via: 'terraform', ...extra });

beforeAll(async () => {
  const toolchain = await tofuToolchain();
  h = await startProxmoxHarness('tf-provision');
  await h.stopWorker();
  p = h.platform;
  await p.startCoreWorker({ terraform: { binary: toolchain.binary, cliConfigFile: toolchain.cliConfigFile, workDir: join(toolchain.dir, 'work') } });
  const admin = await p.signIn({ tenantId: h.tenantId, role: 'admin' });
  operator = await p.signIn({ tenantId: h.tenantId, role: 'operator' });
  const cluster = await p.request('/api/proxmox/clusters', {
    headers: admin.headers,
    body: { name: `pve-${randomUUID().slice(0, 6)}`, url: h.sim.url, tokenId: TOKEN_ID, tokenSecret: h.sim.tokens[0]!.secret, caPem: h.sim.caPem, defaultTemplateVmid: TEMPLATE_VMID },
  });
  expect(cluster.status).toBe(201);
  clusterId = ((await cluster.json()) as { id: string }).id;
}, 300_000);

afterAll(async () => {
  await h?.close();
});

describe('VMs provisioned through Terraform', () => {
  let vm: Guest;

  it('provisions a VM with the proxmox-vm module, then Ansible configures it: the stack holds it, SSH works', { timeout: 300_000 }, async () => {
    const started = await call<{ guest: Guest; run: { workflowId: string } }>('/api/proxmox/guests', { body: vmBody('tf-vm-1') });
    expect(started.status).toBe(202);
    expect(await waitForRun(p, started.body.run.workflowId)).toBe('COMPLETED');
    vm = await guestOf(started.body.guest.id);
    expect(vm).toMatchObject({ state: 'running', node: 'pve', lastError: null });
    expect(vm.ip?.startsWith(`${h.net}.`)).toBe(true);

    // Terraform made it: the simulator's VM carries the module's settings, the stack its state.
    const made = (await simGuests()).find((g) => g.vmid === vm.vmid);
    expect(made).toMatchObject({ name: 'tf-vm-1', status: 'running' });
    expect(String(made!.config.description)).toContain('Managed by Keelson through Terraform');
    expect(String(made!.config.scsi0)).toContain('size=10G');
    expect(made!.config).toMatchObject({ cores: 1, memory: '512', ciuser: 'keelson' });
    const stack = await stackOfGuest(vm.id);
    expect(stack?.outputs.vm_id?.value).toBe(vm.vmid);
    expect((await stackRuns(stack!.id)).map((r) => [r.kind, r.state, r.approvedBy])).toEqual([['apply', 'applied', `run:${vm.workflowId}`]]);

    // Ansible ran over SSH with the provisioning key the module installed.
    expect(await h.ssh(vm.ip!, 'alice', h.adminKey, 'id -un; cat /etc/keelson-provisioned')).toBe(`alice\nvmid=${vm.vmid}\nadmin=alice\n`);
    // The Terraform run is the organization's, listed under the guest beside the provisioning run.
    const guestRuns = await call<{ items: Array<{ operation: string }> }>(`/api/runs?resource=${encodeURIComponent(`guest:${vm.id}`)}`);
    expect(guestRuns.body.items.map((r) => r.operation).sort()).toEqual(['terraform.apply', 'vm.provision']);
  });

  it('destroys such a VM through Terraform: gone from Proxmox, and the stack holds nothing', { timeout: 240_000 }, async () => {
    const destroy = await call<{ workflowId: string }>(`/api/proxmox/guests/${vm.id}/destroy`, { body: { confirmName: 'tf-vm-1' } });
    expect(destroy.status).toBe(202);
    expect(await waitForRun(p, destroy.body.workflowId)).toBe('COMPLETED');
    expect((await guestOf(vm.id)).state).toBe('destroyed');
    expect((await simGuests()).some((g) => g.vmid === vm.vmid)).toBe(false);
    const stack = await stackOfGuest(vm.id);
    expect((await stackRuns(stack!.id)).map((r) => [r.kind, r.state])).toEqual([
      ['destroy', 'applied'],
      ['apply', 'applied'],
    ]);
  });

  it('a Terraform apply that fails leaves no VM and a failed guest naming the step', { timeout: 240_000 }, async () => {
    const before = (await simGuests()).map((g) => g.vmid);
    const started = await call<{ guest: Guest; run: { workflowId: string } }>('/api/proxmox/guests', { body: vmBody('tf-vm-2', { templateVmid: 9999 }) });
    expect(started.status).toBe(202);
    expect(await waitForRun(p, started.body.run.workflowId)).toBe('FAILED');
    const failed = await guestOf(started.body.guest.id);
    expect(failed.state).toBe('failed');
    expect(failed.lastError).toMatch(/at step "terraform apply"/);
    expect((await simGuests()).map((g) => g.vmid)).toEqual(before);
    expect((await h.leftovers()).containers.every((vmid) => before.includes(vmid))).toBe(true);
  });

  it('only VMs go through Terraform: a container asked for that way is a 400 naming `via`', async () => {
    const res = await call<{ message: string }>('/api/proxmox/guests', { body: { ...vmBody('tf-ct-1'), kind: 'lxc', diskGiB: 8 } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^via: only VMs/);
  });
});
