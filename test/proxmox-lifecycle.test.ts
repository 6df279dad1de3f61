import { deleteVmBackupSchedule, upsertVmBackupSchedule, vmBackupScheduleId } from '@keelson/activities/proxmox/schedules';
import type { VmBackupResult } from '../workflows/vm-lifecycle';
import type { VmProvisionInput, VmProvisionResult } from '../workflows/vm-provision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxmoxHarness, TEMPLATE_VMID, type ProxmoxHarness } from './proxmox-harness';

let h: ProxmoxHarness;
let vm: VmProvisionResult;

const vmInput = (name: string): VmProvisionInput => ({
  tenantId: h.tenantId,
  actor: 'test',
  clusterId: h.clusterId,
  name,
  templateVmid: TEMPLATE_VMID,
  cores: 1,
  memoryMiB: 512,
  network: { ip: 'dhcp' },
  provisioningKey: h.provisioningKey,
  adminUser: 'ops',
  adminSshKeys: [h.adminKey.publicKey],
  agentTimeoutSeconds: 60,
});

beforeAll(async () => {
  h = await startProxmoxHarness('pve-lifecycle');
  vm = await h.execute<VmProvisionResult>('vmProvision', vmInput('life-1'));
}, 240_000);
afterAll(async () => {
  await h?.close();
});

const target = () => ({ tenantId: h.tenantId, actor: 'test', clusterId: h.clusterId, node: vm.node, vmid: vm.vmid });
const simGuest = async () => (await h.sim.control.state()).guests.find((g) => g.vmid === vm.vmid);

describe('VM lifecycle operations', () => {
  it('stops and starts the VM; starting a running VM is a no-op', { timeout: 120_000 }, async () => {
    expect(await h.execute('vmPower', { ...target(), action: 'stop' })).toEqual({ status: 'stopped' });
    expect(await h.guests.interfaces(vm.vmid)).toBeNull();
    expect(await h.execute('vmPower', { ...target(), action: 'stop' })).toEqual({ status: 'stopped' });
    expect(await h.execute('vmPower', { ...target(), action: 'start' })).toEqual({ status: 'running' });
    expect(await h.execute('vmPower', { ...target(), action: 'start' })).toEqual({ status: 'running' });
    expect(await h.execute('vmPower', { ...target(), action: 'reboot' })).toEqual({ status: 'running' });
    expect(await h.execute('vmPower', { ...target(), action: 'shutdown', shutdownTimeoutSeconds: 5 })).toEqual({ status: 'stopped' });
    expect(await h.execute('vmPower', { ...target(), action: 'start' })).toEqual({ status: 'running' });
  });

  it('resizes CPU, memory and disk; refuses to shrink the disk', { timeout: 120_000 }, async () => {
    expect(await h.execute('vmResize', { ...target(), cores: 2, memoryMiB: 1024, diskGiB: 10 })).toEqual({ cores: 2, memoryMiB: 1024, diskGiB: 10 });
    const guest = await simGuest();
    expect(guest?.config).toMatchObject({ cores: 2, memory: '1024' });
    expect(String(guest?.config.scsi0)).toContain('size=10G');

    const failure = await h.executeFailing('vmResize', { ...target(), diskGiB: 4 });
    expect(failure.cause?.type ?? failure.type).toBe('DiskShrinkRefused');
    expect(String((await simGuest())?.config.scsi0)).toContain('size=10G');
  });

  it('snapshots, rolls back to the snapshot, and deletes it', { timeout: 120_000 }, async () => {
    await h.execute('vmSnapshot', { ...target(), snapshot: 'before-upgrade', description: 'known good' });
    await h.execute('vmSnapshot', { ...target(), snapshot: 'before-upgrade' }); // already there: no-op
    // A change after the snapshot, which the rollback undoes.
    await h.execute('vmResize', { ...target(), memoryMiB: 2048 });
    expect((await simGuest())?.config.memory).toBe('2048');

    await h.execute('vmRollback', { ...target(), snapshot: 'before-upgrade' });
    const rolledBack = await simGuest();
    expect(rolledBack?.config.memory).toBe('1024');
    expect(rolledBack?.status).toBe('running');
    expect(rolledBack?.lock).toBeUndefined();

    await h.execute('vmDeleteSnapshot', { ...target(), snapshot: 'before-upgrade' });
    await h.execute('vmDeleteSnapshot', { ...target(), snapshot: 'before-upgrade' }); // gone already: no-op
    expect((await simGuest())?.config.parent).toBeUndefined();
  });

  it('backs up with retention: of three backups the two newest stay', { timeout: 120_000 }, async () => {
    const results: VmBackupResult[] = [];
    for (let i = 0; i < 3; i++) {
      results.push(await h.execute<VmBackupResult>('vmBackup', { ...target(), storage: 'local', keep: 2 }));
      // vzdump names archives by the second they start.
      await new Promise((r) => setTimeout(r, 1100));
    }
    expect(results[2]!.deleted).toEqual([results[0]!.backup.volid]);
    expect(results[2]!.kept).toEqual([results[2]!.backup.volid, results[1]!.backup.volid]);
    const volumes = (await h.sim.control.state()).volumes.filter((v) => v.content === 'backup' && v.vmid === vm.vmid).map((v) => v.volid);
    expect(volumes.sort()).toEqual([results[1]!.backup.volid, results[2]!.backup.volid].sort());
    expect(results[0]!.backup.volid).toMatch(new RegExp(`^local:backup/vzdump-qemu-${vm.vmid}-.*\\.vma\\.zst$`));
  });

  it('creates and updates the backup schedule for a VM', async () => {
    const options = {
      vmId: `vm-${vm.vmid}-${h.taskQueue}`,
      taskQueue: h.taskQueue,
      spec: { calendars: [{ hour: 3, minute: 30 }] },
      input: { ...target(), storage: 'local', keep: 7 },
      paused: true,
    };
    expect(await upsertVmBackupSchedule(h.platform.temporal, options)).toMatchObject({ created: true });
    try {
      expect(await upsertVmBackupSchedule(h.platform.temporal, { ...options, input: { ...options.input, keep: 3 } })).toMatchObject({ created: false });
      const described = await h.platform.temporal.schedule.getHandle(vmBackupScheduleId(options.vmId)).describe();
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'vmBackup', taskQueue: h.taskQueue });
      expect((described.action as { args?: Array<{ keep: number }> }).args?.[0]?.keep).toBe(3);
      expect(described.state.paused).toBe(true);
    } finally {
      await deleteVmBackupSchedule(h.platform.temporal, options.vmId);
    }
    await deleteVmBackupSchedule(h.platform.temporal, options.vmId); // already gone
  });

  it('refuses to destroy without the VM name as confirmation, then destroys with it', { timeout: 120_000 }, async () => {
    const refused = await h.executeFailing('vmDestroy', { ...target(), confirmName: 'life-2' });
    expect(refused.type).toBe('ConfirmationMismatch');
    expect(await simGuest()).toBeDefined();

    expect(await h.execute('vmDestroy', { ...target(), confirmName: 'life-1' })).toEqual({ destroyed: true });
    expect(await simGuest()).toBeUndefined();
    expect(await h.guests.list()).not.toContain(vm.vmid);
  });
});
