import { auditLog } from '@keelson/db/schema';
import { startTestSim, type TestSim } from '@keelson/proxmox-sim/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn, TestPlatform } from '../../../../test/platform';
import { OSTEMPLATE, startProxmoxHarness, TEMPLATE_VMID, TOKEN_ID, type ProxmoxHarness } from '../../../../test/proxmox-harness';
import { waitForRun } from '../../../../test/runs';
import { ClusterSchema, CreatedClusterSchema, GuestSchema, ProvisionedGuestSchema } from './schema';

/**
 * Proxmox clusters and guests through the API, against the Proxmox simulator with Docker-backed
 * guests, run by the platform's own core worker (which reads clusters from Postgres).
 */
let h: ProxmoxHarness;
let p: TestPlatform;
let admin: SignedIn;
let operator: SignedIn;
let viewer: SignedIn;
let outsider: SignedIn;
/** A second simulator: a real cluster whose CA is not the first one's. */
let otherSim: TestSim;
/** Every response body the API gave in this file, to check the token secret never left it. */
const responses: string[] = [];

async function call<T = unknown>(who: SignedIn, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const res = await p.request(path, { ...init, headers: who.headers });
  const text = await res.text();
  responses.push(text);
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const secret = () => h.sim.tokens[0]!.secret;
const clusterBody = (overrides: Record<string, unknown> = {}) => ({
  name: `pve-${randomUUID().slice(0, 6)}`,
  url: h.sim.url,
  tokenId: TOKEN_ID,
  tokenSecret: secret(),
  caPem: h.sim.caPem,
  fingerprint: h.sim.fingerprint,
  defaultTemplateVmid: TEMPLATE_VMID,
  ...overrides,
});

type Guest = ReturnType<typeof GuestSchema.parse>;
const guestOf = async (id: string) => GuestSchema.parse((await call<Guest>(operator, `/api/proxmox/guests/${id}`)).body);

beforeAll(async () => {
  h = await startProxmoxHarness('api-proxmox');
  // The harness's own worker is not needed: the platform's core worker runs everything here.
  await h.stopWorker();
  p = h.platform;
  await p.startCoreWorker();
  admin = await p.signIn({ tenantId: h.tenantId, role: 'admin' });
  operator = await p.signIn({ tenantId: h.tenantId, role: 'operator' });
  viewer = await p.signIn({ tenantId: h.tenantId, role: 'viewer' });
  const other = await p.createTenant();
  outsider = await p.signIn({ tenantId: other.id, role: 'admin' });
  otherSim = await startTestSim();
}, 120_000);

afterAll(async () => {
  await otherSim?.dispose();
  await h?.close();
});

describe('Proxmox through the API', () => {
  let clusterId: string;
  let vm: Guest;

  it('checks a cluster before adding it: a wrong token or a CA that does not verify is a 400 naming it', async () => {
    const wrongToken = await call<{ code: string; message: string }>(admin, '/api/proxmox/clusters', { body: clusterBody({ tokenSecret: randomUUID() }) });
    expect(wrongToken.status).toBe(400);
    expect(wrongToken.body.message).toMatch(/tokenSecret: Proxmox refused the API token root@pam!keelson/);

    const wrongCa = await call<{ message: string }>(admin, '/api/proxmox/clusters', { body: clusterBody({ caPem: otherSim.caPem, fingerprint: undefined }) });
    expect(wrongCa.status).toBe(400);
    expect(wrongCa.body.message).toMatch(/caPem: TLS verification failed/);

    const wrongPin = await call<{ message: string }>(admin, '/api/proxmox/clusters', { body: clusterBody({ fingerprint: otherSim.fingerprint }) });
    expect(wrongPin.status).toBe(400);
    expect(wrongPin.body.message).toMatch(/fingerprint: TLS fingerprint mismatch/);

    const badInput = await call<{ message: string }>(admin, '/api/proxmox/clusters', { body: clusterBody({ url: 'http://insecure:8006', caPem: 'not a pem' }) });
    expect(badInput.status).toBe(400);
    expect(badInput.body.message).toMatch(/url: .*https/);
    expect(badInput.body.message).toMatch(/caPem: a PEM certificate/);
    // Nothing was stored by the refused attempts.
    expect((await call<{ items: unknown[] }>(admin, '/api/proxmox/clusters')).body.items).toEqual([]);
  });

  it('adds a cluster with its CA pinned; only admins may, and the secret is never returned', async () => {
    expect((await call(operator, '/api/proxmox/clusters', { body: clusterBody() })).status).toBe(403);
    expect((await call(viewer, '/api/proxmox/clusters', { body: clusterBody() })).status).toBe(403);
    const created = await call(admin, '/api/proxmox/clusters', { body: clusterBody({ name: 'main' }) });
    expect(created.status).toBe(201);
    const cluster = CreatedClusterSchema.strict().parse(created.body);
    expect(cluster).toMatchObject({ name: 'main', url: h.sim.url, tokenId: TOKEN_ID, fingerprint: h.sim.fingerprint, presentedFingerprint: h.sim.fingerprint, version: expect.any(String) });
    clusterId = cluster.id;
    expect(created.body).not.toHaveProperty('tokenSecret');

    const listed = await call<{ items: unknown[] }>(viewer, '/api/proxmox/clusters');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((c) => ClusterSchema.strict().parse(c).id)).toEqual([clusterId]);
    expect((await call(admin, '/api/proxmox/clusters', { body: clusterBody({ name: 'main' }) })).status).toBe(409);
    // A changed token is checked before it is stored.
    const refused = await call<{ message: string }>(admin, `/api/proxmox/clusters/${clusterId}`, { method: 'PATCH', body: { tokenSecret: randomUUID() } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/token/);
    const renamed = await call(admin, `/api/proxmox/clusters/${clusterId}`, { method: 'PATCH', body: { defaultStorage: 'local-lvm' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ defaultStorage: 'local-lvm' });
  });

  it('provisions a VM through the API: the run completes, the record is running with its address, and SSH works', { timeout: 240_000 }, async () => {
    const body = {
      kind: 'qemu',
      clusterId,
      name: 'api-vm-1',
      cores: 1,
      memoryMiB: 512,
      diskGiB: 8,
      sshKeys: [h.adminKey.publicKey],
      user: 'alice',
      ipConfig: { ip: 'dhcp' },
    };
    expect((await call(viewer, '/api/proxmox/guests', { body })).status).toBe(403);
    const invalid = await call<{ message: string }>(operator, '/api/proxmox/guests', { body: { ...body, sshKeys: ['not a key'], user: 'root', cores: 0 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toMatch(/sshKeys\.0: an OpenSSH public key/);
    expect(invalid.body.message).toMatch(/user: root cannot be the admin user/);
    expect(invalid.body.message).toMatch(/cores/);

    const started = await call(operator, '/api/proxmox/guests', { body });
    expect(started.status).toBe(202);
    const { guest, run } = ProvisionedGuestSchema.parse(started.body);
    expect(guest).toMatchObject({ kind: 'qemu', name: 'api-vm-1', state: 'provisioning', vmid: null, workflowId: `vm/${guest.id}/provision` });
    expect(run).toMatchObject({ workflowId: guest.workflowId, operation: 'vm.provision' });
    // The same name on the same cluster is taken while the guest exists.
    expect((await call(operator, '/api/proxmox/guests', { body })).status).toBe(409);

    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    vm = await guestOf(guest.id);
    expect(vm).toMatchObject({ state: 'running', node: 'pve', cores: 1, memoryMiB: 512, diskGiB: 8, adminUser: 'alice', lastError: null });
    expect(vm.vmid).toEqual(expect.any(Number));
    expect(vm.ip?.startsWith(`${h.net}.`)).toBe(true);
    const simGuest = (await h.sim.control.state()).guests.find((g) => g.vmid === vm.vmid);
    expect(simGuest).toMatchObject({ name: 'api-vm-1', status: 'running' });
    expect(await h.ssh(vm.ip!, 'alice', h.adminKey, 'id -un; cat /etc/keelson-provisioned')).toBe(`alice\nvmid=${vm.vmid}\nadmin=alice\n`);

    // The run is the organization's: listed under the guest, with the operation's name.
    const runs = await call<{ items: Array<{ workflowId: string; operation: string; resources: string[] }> }>(viewer, `/api/runs?resource=${encodeURIComponent(`guest:${vm.id}`)}`);
    expect(runs.body.items).toEqual([expect.objectContaining({ workflowId: run.workflowId, operation: 'vm.provision', resources: [`guest:${vm.id}`, `cluster:${clusterId}`] })]);
  });

  it('stops and starts the VM, recording its state', { timeout: 120_000 }, async () => {
    expect((await call(viewer, `/api/proxmox/guests/${vm.id}/power`, { body: { action: 'stop' } })).status).toBe(403);
    const stop = await call<{ workflowId: string; operation: string }>(operator, `/api/proxmox/guests/${vm.id}/power`, { body: { action: 'stop' } });
    expect(stop.status).toBe(202);
    expect(stop.body.operation).toBe('vm.power');
    expect(await waitForRun(p, stop.body.workflowId)).toBe('COMPLETED');
    expect((await guestOf(vm.id)).state).toBe('stopped');
    expect((await h.sim.control.state()).guests.find((g) => g.vmid === vm.vmid)?.status).toBe('stopped');

    // Through the generic start route too, as the start forms use it.
    const start = await call<{ workflowId: string }>(operator, '/api/runs', { body: { operation: 'vm.power', input: { guestId: vm.id, action: 'start' } } });
    expect(start.status).toBe(201);
    expect(await waitForRun(p, start.body.workflowId)).toBe('COMPLETED');
    expect((await guestOf(vm.id)).state).toBe('running');
  });

  it('takes a snapshot and rolls back to it', { timeout: 120_000 }, async () => {
    const snap = await call<{ workflowId: string }>(operator, `/api/proxmox/guests/${vm.id}/snapshots`, { body: { snapshot: 'before-upgrade' } });
    expect(snap.status).toBe(202);
    expect(await waitForRun(p, snap.body.workflowId)).toBe('COMPLETED');
    const back = await call<{ workflowId: string }>(operator, `/api/proxmox/guests/${vm.id}/rollback`, { body: { snapshot: 'before-upgrade' } });
    expect(await waitForRun(p, back.body.workflowId)).toBe('COMPLETED');
    expect((await call(operator, `/api/proxmox/guests/${vm.id}/resize`, { body: { diskGiB: 4 } })).status).toBe(400);
  });

  it('sets and removes a backup schedule', async () => {
    const set = await call(operator, `/api/proxmox/guests/${vm.id}/backup-schedule`, { method: 'PUT', body: { cron: '30 3 * * *', keep: 3 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ scheduleId: `vm/${vm.id}/backup-schedule`, created: true, backupSchedule: { cron: '30 3 * * *', keep: 3 } });
    const described = await p.temporal.schedule.getHandle(`vm/${vm.id}/backup-schedule`).describe();
    expect(described.action).toMatchObject({ workflowType: 'vmBackup', taskQueue: p.coreTaskQueue });
    expect((await guestOf(vm.id)).backupSchedule).toMatchObject({ cron: '30 3 * * *', keep: 3 });
    expect((await call(operator, `/api/proxmox/guests/${vm.id}/backup-schedule`, { method: 'DELETE' })).status).toBe(204);
    await expect(p.temporal.schedule.getHandle(`vm/${vm.id}/backup-schedule`).describe()).rejects.toThrow();
    expect((await guestOf(vm.id)).backupSchedule).toBeNull();
  });

  it('runs a scheduled backup when the schedule fires and keeps only the newest backups', async () => {
    const set = await call(operator, `/api/proxmox/guests/${vm.id}/backup-schedule`, { method: 'PUT', body: { cron: '30 3 * * *', keep: 2 } });
    expect(set.status).toBe(200);
    const schedule = p.temporal.schedule.getHandle(`vm/${vm.id}/backup-schedule`);
    const runs: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        // What the cron would do at 03:30, now: the schedule starts its backup run.
        await schedule.trigger();
        await expect.poll(async () => (await schedule.describe()).info.recentActions.length, { timeout: 15_000 }).toBe(i + 1);
        const workflowId = (await schedule.describe()).info.recentActions.at(-1)!.action.workflow.workflowId;
        expect(await waitForRun(p, workflowId)).toBe('COMPLETED');
        runs.push(workflowId);
        // vzdump names archives by the second they start.
        await new Promise((r) => setTimeout(r, 1100));
      }
    } finally {
      await call(operator, `/api/proxmox/guests/${vm.id}/backup-schedule`, { method: 'DELETE' });
    }
    const last = (await p.temporal.workflow.getHandle(runs.at(-1)!).result()) as { kept: string[]; deleted: string[] };
    expect(last.kept).toHaveLength(2);
    expect(last.deleted).toHaveLength(1);
    const { vmid } = await guestOf(vm.id);
    const archives = (await h.sim.control.state()).volumes.filter((v) => v.content === 'backup' && v.vmid === vmid);
    expect(archives.map((v) => v.volid).sort()).toEqual([...last.kept].sort());
  });

  it('keeps another organization out: its clusters and guests are 404s, and it cannot provision on them', async () => {
    for (const [method, path, body] of [
      ['GET', `/api/proxmox/clusters/${clusterId}`],
      ['PATCH', `/api/proxmox/clusters/${clusterId}`, { name: 'mine-now' }],
      ['DELETE', `/api/proxmox/clusters/${clusterId}`],
      ['GET', `/api/proxmox/guests/${vm.id}`],
      ['POST', `/api/proxmox/guests/${vm.id}/power`, { action: 'stop' }],
      ['POST', `/api/proxmox/guests/${vm.id}/destroy`, { confirmName: 'api-vm-1' }],
      ['PUT', `/api/proxmox/guests/${vm.id}/backup-schedule`, { cron: '0 1 * * *', keep: 1 }],
    ] as const) {
      expect((await call(outsider, path, { method, body })).status, `${method} ${path}`).toBe(404);
    }
    expect((await call(outsider, '/api/runs', { body: { operation: 'vm.power', input: { guestId: vm.id, action: 'stop' } } })).status).toBe(404);
    expect((await call<{ items: unknown[] }>(outsider, '/api/proxmox/clusters')).body.items).toEqual([]);
    expect((await call<{ items: unknown[] }>(outsider, '/api/proxmox/guests')).body.items).toEqual([]);
    const foreign = await call<{ message: string }>(outsider, '/api/proxmox/guests', {
      body: { clusterId, name: 'intruder', sshKeys: [h.adminKey.publicKey], user: 'mallory' },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toMatch(/clusterId: no such cluster/);
    expect((await guestOf(vm.id)).state).toBe('running');
  });

  it('refuses to destroy without the right name, then destroys the VM and records it', { timeout: 120_000 }, async () => {
    const wrong = await call<{ message: string }>(operator, `/api/proxmox/guests/${vm.id}/destroy`, { body: { confirmName: 'api-vm-2' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/confirmName/);
    expect((await guestOf(vm.id)).state).toBe('running');
    // A cluster with a guest on it cannot be removed.
    expect((await call(admin, `/api/proxmox/clusters/${clusterId}`, { method: 'DELETE' })).status).toBe(409);

    const destroy = await call<{ workflowId: string; operation: string }>(operator, `/api/proxmox/guests/${vm.id}/destroy`, { body: { confirmName: 'api-vm-1' } });
    expect(destroy.status).toBe(202);
    expect(destroy.body).toMatchObject({ workflowId: `vm/${vm.id}/destroy`, operation: 'vm.destroy' });
    expect(await waitForRun(p, destroy.body.workflowId)).toBe('COMPLETED');
    expect((await guestOf(vm.id)).state).toBe('destroyed');
    expect((await h.sim.control.state()).guests.some((g) => g.vmid === vm.vmid)).toBe(false);
    expect((await call<{ items: Guest[] }>(operator, '/api/proxmox/guests')).body.items.map((g) => g.id)).not.toContain(vm.id);
    expect((await call(operator, `/api/proxmox/guests/${vm.id}/power`, { body: { action: 'start' } })).status).toBe(409);
  });

  it('never lets the token secret out: not in responses, the audit log, or run histories', async () => {
    const token = secret();
    expect(responses.length).toBeGreaterThan(20);
    expect(responses.filter((r) => r.includes(token))).toEqual([]);
    const audit = JSON.stringify(await p.db.select().from(auditLog));
    expect(audit).toContain('proxmox.cluster.create');
    expect(audit).not.toContain(token);
    const runs = await call<{ items: Array<{ workflowId: string }> }>(admin, '/api/runs?pageSize=100');
    expect(runs.body.items.length).toBeGreaterThanOrEqual(6);
    for (const { workflowId } of runs.body.items) {
      const history = JSON.stringify((await p.temporal.workflow.getHandle(workflowId).fetchHistory()).events);
      expect(history).not.toContain(token);
      // Decoded, as someone with workflow.payloads sees it, it is not there either.
      expect(JSON.stringify((await call(admin, `/api/runs/${encodeURIComponent(workflowId)}`)).body)).not.toContain(token);
    }
  });

  it('records a failed provision with the step it failed at', { timeout: 120_000 }, async () => {
    await h.sim.control.addFault({ match: { taskType: 'qmclone' }, action: { kind: 'task-failure', message: 'storage migration failed: out of disk' } });
    const body = { clusterId, name: 'doomed', sshKeys: [h.adminKey.publicKey], user: 'alice' };
    const started = await call(operator, '/api/proxmox/guests', { body });
    const { guest, run } = ProvisionedGuestSchema.parse(started.body);
    expect(await waitForRun(p, run.workflowId)).toBe('FAILED');
    const failed = await guestOf(guest.id);
    expect(failed).toMatchObject({ state: 'failed', vmid: null });
    expect(failed.lastError).toMatch(/at step "clone template".*out of disk/);
    expect((await call(operator, `/api/proxmox/guests/${guest.id}/power`, { body: { action: 'start' } })).status).toBe(409);
    await h.sim.control.clearFaults();
  });

  it('provisions an LXC container with a static address through the generic start route, and destroys it', { timeout: 180_000 }, async () => {
    const started = await call<{ workflowId: string; operation: string }>(operator, '/api/runs', {
      body: {
        operation: 'lxc.provision',
        input: { clusterId, name: 'api-ct-1', ostemplate: OSTEMPLATE, diskGiB: 4, sshKeys: [h.adminKey.publicKey], user: 'bob', ipConfig: { ip: `${h.net}.60/24`, gateway: `${h.net}.1` } },
      },
    });
    expect(started.status).toBe(201);
    expect(started.body.operation).toBe('lxc.provision');
    expect(await waitForRun(p, started.body.workflowId)).toBe('COMPLETED');
    const guestId = started.body.workflowId.split('/')[1]!;
    const ct = await guestOf(guestId);
    expect(ct).toMatchObject({ kind: 'lxc', name: 'api-ct-1', state: 'running', ip: `${h.net}.60`, diskGiB: 4, adminUser: 'bob' });
    expect(await h.ssh(ct.ip!, 'bob', h.adminKey, 'id -un; hostname')).toBe('bob\napi-ct-1\n');
    const destroy = await call<{ workflowId: string }>(operator, `/api/proxmox/guests/${ct.id}/destroy`, { body: { confirmName: 'api-ct-1' } });
    expect(await waitForRun(p, destroy.body.workflowId)).toBe('COMPLETED');
    expect((await guestOf(ct.id)).state).toBe('destroyed');
  });

  it('removes the cluster once no guest is left on it', async () => {
    expect((await call(operator, `/api/proxmox/clusters/${clusterId}`, { method: 'DELETE' })).status).toBe(403);
    expect((await call(admin, `/api/proxmox/clusters/${clusterId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(admin, `/api/proxmox/clusters/${clusterId}`)).status).toBe(404);
  });
});
