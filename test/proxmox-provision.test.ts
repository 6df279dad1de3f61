import type { LxcProvisionInput, LxcProvisionResult } from '../workflows/lxc-provision';
import type { VmProvisionInput, VmProvisionResult } from '../workflows/vm-provision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OSTEMPLATE, startProxmoxHarness, TEMPLATE_VMID, type ProxmoxHarness } from './proxmox-harness';

let h: ProxmoxHarness;

/** The failure types of the activity attempts that failed in a run's history. */
async function failedActivityTypes(workflowId: string): Promise<string[]> {
  const history = await h.platform.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const type = e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type;
    return type ? [type] : [];
  });
}

beforeAll(async () => {
  h = await startProxmoxHarness('pve-provision');
});
afterAll(async () => {
  await h?.close();
});

const vmInput = (name: string, overrides: Partial<VmProvisionInput> = {}): VmProvisionInput => ({
  tenantId: h.tenantId,
  actor: 'test',
  clusterId: h.clusterId,
  name,
  templateVmid: TEMPLATE_VMID,
  cores: 1,
  memoryMiB: 512,
  diskGiB: 8,
  network: { ip: 'dhcp' },
  provisioningKey: h.provisioningKey,
  adminUser: 'alice',
  adminSshKeys: [h.adminKey.publicKey],
  agentTimeoutSeconds: 60,
  ...overrides,
});

/** The run failed at `step`, and nothing of it is left: no guest by that name, no orphan container. */
async function expectFailedAndCleanedUp(name: string, overrides: Partial<VmProvisionInput>, step: string, cause: RegExp) {
  const failure = await h.executeFailing('vmProvision', vmInput(name, overrides));
  expect(failure.type).toBe('ProvisionFailed');
  expect(failure.message).toContain(`at step "${step}"`);
  expect(failure.message).toMatch(cause);
  const { guests, containers } = await h.leftovers();
  expect(guests.map((g) => g.name)).not.toContain(name);
  // Every container belongs to a guest the simulator still has (earlier tests' VMs).
  expect(containers.every((vmid) => guests.some((g) => g.vmid === vmid))).toBe(true);
  expect((await h.sim.control.state()).guests.filter((g) => g.lock !== undefined && !g.template)).toEqual([]);
}

describe('VM provisioning on the Proxmox simulator', () => {
  let vm: VmProvisionResult;

  it('provisions a VM end to end: clone, configure, grow, start, address, Ansible', { timeout: 180_000 }, async () => {
    vm = await h.execute<VmProvisionResult>('vmProvision', vmInput('web-1'));
    expect(vm).toMatchObject({ name: 'web-1', node: 'pve', adminUser: 'alice' });
    expect(vm.ip.startsWith(`${h.net}.`)).toBe(true);

    const guest = (await h.sim.control.state()).guests.find((g) => g.vmid === vm.vmid)!;
    expect(guest).toMatchObject({ status: 'running', name: 'web-1' });
    expect(guest.lock).toBeUndefined();
    expect(guest.config).toMatchObject({ cores: 1, memory: '512', ciuser: 'keelson', ipconfig0: 'ip=dhcp', tags: 'keelson' });
    expect(String(guest.config.scsi0)).toContain('size=8G');
    expect(String(guest.config.description)).toContain(`keelson-owner=vmProvision/`);
    // Stored URL-encoded, as PVE keeps `sshkeys`.
    expect(guest.config.sshkeys).toBe(encodeURIComponent(h.provisioningKey.publicKey));

    // The admin user logs in with its own key, has passwordless sudo, and the marker is there.
    const out = await h.ssh(vm.ip, 'alice', h.adminKey, 'id -un; sudo -n id -un; cat /etc/keelson-provisioned; sudo -n cat /etc/ssh/sshd_config.d/10-keelson-hardening.conf');
    expect(out).toContain(`alice\nroot\nvmid=${vm.vmid}\nadmin=alice\n`);
    expect(out).toMatch(/PasswordAuthentication no/);
    expect(out).toMatch(/PermitRootLogin prohibit-password/);
    // sshd took the new settings: password logins are refused from now on.
    const sshdConfig = await h.ssh(vm.ip, 'alice', h.adminKey, 'sudo -n /usr/sbin/sshd -T 2>/dev/null | grep -E "^(passwordauthentication|permitrootlogin) "');
    expect(sshdConfig).toContain('passwordauthentication no');
  });

  it('streams the Ansible output into the run log', async () => {
    const { runLogs } = await import('@keelson/db/schema');
    const { eq } = await import('drizzle-orm');
    const rows = await h.platform.db.select().from(runLogs).where(eq(runLogs.tenantId, h.tenantId));
    const text = rows.map((r) => r.data).join('');
    expect(text).toContain('TASK [base : Create the admin user]');
    expect(text).toMatch(/PLAY RECAP/);
  });

  it('fails at the clone when the clone task fails, leaving nothing behind', { timeout: 120_000 }, async () => {
    await h.sim.control.addFault({ match: { taskType: 'qmclone' }, action: { kind: 'task-failure', message: 'storage migration failed: out of disk' } });
    await expectFailedAndCleanedUp('fail-clone', {}, 'clone template', /out of disk/);
  });

  it('fails at configure on a refused parameter, and destroys the clone', { timeout: 120_000 }, async () => {
    await h.sim.control.addFault({
      match: { method: 'PUT', path: '/nodes/*/qemu/*/config' },
      action: { kind: 'http-error', status: 400, message: 'Parameter verification failed.' },
    });
    await expectFailedAndCleanedUp('fail-config', {}, 'configure', /rejected the parameters/);
  });

  it('fails at start when the start task fails, and destroys the VM', { timeout: 120_000 }, async () => {
    await h.sim.control.addFault({ match: { taskType: 'qmstart' }, action: { kind: 'task-failure', message: 'start failed: QEMU exited with code 1' } });
    await expectFailedAndCleanedUp('fail-start', {}, 'start', /QEMU exited with code 1/);
  });

  it('fails when the guest agent is not configured, and stops and destroys the running VM', { timeout: 120_000 }, async () => {
    const fault = await h.sim.control.addFault({
      match: { path: '/nodes/*/qemu/*/agent/network-get-interfaces' },
      action: { kind: 'http-error', status: 500, message: 'No QEMU guest agent configured' },
      times: 'always',
    });
    try {
      await expectFailedAndCleanedUp('fail-agent', {}, 'wait for agent IP', /no QEMU guest agent configured/);
    } finally {
      await h.sim.control.removeFault(fault.id);
    }
  });

  it('fails when a playbook task fails, naming the task, and destroys the VM', { timeout: 180_000 }, async () => {
    await expectFailedAndCleanedUp('fail-ansible', { ansibleVars: { keelson_fail_on_purpose: true } }, 'ansible', /task "base : Stop here on request" failed/);
  });

  it('retries transient failures (locks, an unreachable node, a dropped connection) and succeeds', { timeout: 180_000 }, async () => {
    // The clone's POST takes effect but its answer is lost: the client repeats it and meets
    // "config file already exists" for the VM it just made, which the activity adopts.
    await h.sim.control.addFault({ match: { method: 'POST', path: '/nodes/*/qemu/*/clone' }, action: { kind: 'drop-connection', when: 'after' } });
    await h.sim.control.addFault({ match: { method: 'PUT', path: '/nodes/*/qemu/*/config' }, action: { kind: 'lock-timeout' } });
    await h.sim.control.addFault({ match: { method: 'POST', path: '/nodes/*/qemu/*/status/start' }, action: { kind: 'node-offline' }, times: 2 });
    await h.sim.control.addFault({ match: { taskType: 'resize' }, action: { kind: 'lock-timeout' } });

    const result = await h.execute<VmProvisionResult>('vmProvision', vmInput('flaky-1', { diskGiB: 4 }));
    expect(result.name).toBe('flaky-1');
    expect((await h.sim.control.faults()).every((f) => f.fired >= 1)).toBe(true);
    expect((await h.ssh(result.ip, 'alice', h.adminKey, 'cat /etc/keelson-provisioned')).trim()).toContain(`vmid=${result.vmid}`);
    const { guests } = await h.leftovers();
    expect(guests.filter((g) => g.name === 'flaky-1')).toHaveLength(1);
    await h.sim.control.clearFaults();
  });

  it('two provisions racing for the next VMID both succeed with different ids', { timeout: 240_000 }, async () => {
    // Both runs wait for the worker, which then proposes the same next VMID to both. Their first
    // clone attempts meet an unreachable node, so neither VM exists before both hold the same
    // proposal; on the retry one clone wins and the other meets the winner's VM.
    await h.sim.control.addFault({ match: { method: 'POST', path: '/nodes/*/qemu/*/clone' }, action: { kind: 'node-offline' }, times: 2 });
    await h.stopWorker();
    const runs = [await h.start<VmProvisionResult>('vmProvision', vmInput('race-a')), await h.start<VmProvisionResult>('vmProvision', vmInput('race-b'))];
    await h.startWorker();
    const [a, b] = (await Promise.all(runs.map((r) => r.result()))) as [VmProvisionResult, VmProvisionResult];
    expect(a.vmid).not.toBe(b.vmid);
    // The loser's clone met the winner's VM and asked for another id.
    const taken = await Promise.all(runs.map((r) => failedActivityTypes(r.workflowId)));
    expect(taken.flat()).toContain('VmidTaken');
    const { guests } = await h.leftovers();
    expect(guests.filter((g) => g.name === 'race-a' || g.name === 'race-b').map((g) => g.vmid).sort()).toEqual([a.vmid, b.vmid].sort());
    expect(await h.ssh(a.ip, 'alice', h.adminKey, 'cat /etc/keelson-provisioned')).toContain(`vmid=${a.vmid}`);
    expect(await h.ssh(b.ip, 'alice', h.adminKey, 'cat /etc/keelson-provisioned')).toContain(`vmid=${b.vmid}`);
  });
});

describe('LXC provisioning on the Proxmox simulator', () => {
  const lxcInput = (hostname: string, overrides: Partial<LxcProvisionInput> = {}): LxcProvisionInput => ({
    tenantId: h.tenantId,
    actor: 'test',
    clusterId: h.clusterId,
    hostname,
    ostemplate: OSTEMPLATE,
    cores: 1,
    memoryMiB: 512,
    rootfsGiB: 4,
    network: { ip: `${h.net}.50/24`, gateway: `${h.net}.1` },
    provisioningKey: h.provisioningKey,
    adminUser: 'bob',
    adminSshKeys: [h.adminKey.publicKey],
    ...overrides,
  });

  it('provisions a container with a static address, and Ansible configures it', { timeout: 180_000 }, async () => {
    const ct = await h.execute<LxcProvisionResult>('lxcProvision', lxcInput('ct-1'));
    expect(ct).toMatchObject({ hostname: 'ct-1', ip: `${h.net}.50`, adminUser: 'bob' });
    const guest = (await h.sim.control.state()).guests.find((g) => g.vmid === ct.vmid)!;
    expect(guest).toMatchObject({ type: 'lxc', status: 'running', name: 'ct-1' });
    expect(String(guest.config.net0)).toContain(`ip=${h.net}.50/24,gw=${h.net}.1`);
    const out = await h.ssh(ct.ip, 'bob', h.adminKey, 'id -un; hostname; sudo -n cat /etc/keelson-provisioned');
    expect(out).toBe(`bob\nct-1\nvmid=${ct.vmid}\nadmin=bob\n`);
  });

  it('fails on a missing ostemplate without leaving a container', { timeout: 60_000 }, async () => {
    const failure = await h.executeFailing('lxcProvision', lxcInput('ct-missing', { ostemplate: 'local:vztmpl/nope.tar.zst' }));
    expect(failure.message).toContain('at step "create container"');
    expect(failure.message).toMatch(/ostemplate .* does not exist/);
    expect((await h.leftovers()).guests.map((g) => g.name)).not.toContain('ct-missing');
  });
});

describe('a worker lost mid-provision', () => {
  /** Waits until the run has scheduled an activity of this type. */
  async function waitForActivity(workflowId: string, activityType: string): Promise<void> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const history = await h.platform.temporal.workflow.getHandle(workflowId).fetchHistory();
      if ((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${workflowId} never scheduled ${activityType}`);
  }

  for (const [i, point] of (['cloneTemplate', 'configureVm', 'startVm', 'waitForAgentIp', 'runAnsible'] as const).entries()) {
    it(`finishes exactly once with one VM when the worker stops during ${point}`, { timeout: 180_000 }, async () => {
      const name = `crash-${i}`;
      const run = await h.start<VmProvisionResult>('vmProvision', vmInput(name));
      await waitForActivity(run.workflowId, point);
      await new Promise((r) => setTimeout(r, 30 * i));
      // A stopped worker does not report its in-flight activity; the heartbeat timeout (or, for
      // a short call, start-to-close) hands it to the new worker, which must adopt, not repeat.
      await h.stopWorker();
      await h.startWorker();
      const result = await run.result();

      const { guests, containers } = await h.leftovers();
      expect(guests.filter((g) => g.name === name).map((g) => g.vmid)).toEqual([result.vmid]);
      expect(containers.every((vmid) => guests.some((g) => g.vmid === vmid))).toBe(true);
      expect(await h.ssh(result.ip, 'alice', h.adminKey, 'cat /etc/keelson-provisioned')).toContain(`vmid=${result.vmid}`);
    });
  }
});
