import { terraformDriftScheduleId } from '@keelson/common/constants';
import { runLogs, terraformDriftFindings, terraformRuns } from '@keelson/db/schema';
import { apiCaller, startTestSim, type TestSim } from '@keelson/proxmox-sim/testing';
import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { waitForRun } from '../../../../test/runs';
import { addSimCluster, openedHistory, PROXMOX_VM_MODULE, simTofuConfig, simVms, stacksApi, tofuToolchain, type StackRun, type TofuToolchain } from '../../../../test/terraform-harness';
import { initArgs, prepareWorkspace, runTofu, type TofuWorkspace } from '@keelson/activities/terraform/tofu';
import { terraformBackendUrl } from '../../../../workers/src/workers';

// Stacks end to end: the API, the terraformRun workflow on a real worker, the real tofu with state
// in Postgres, infra/terraform/proxmox-vm against the Proxmox simulator.

const SECRET = `s3cret-${randomBytes(8).toString('hex')}`;
let p: TestPlatform;
let sim: TestSim;
let toolchain: TofuToolchain;
let owner: SignedIn;
let clusterId: string;
let tf: ReturnType<typeof stacksApi>;

const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;
const post = (path: string, body: unknown, who: SignedIn = owner) => p.request(path, { method: 'POST', headers: who.headers, body });
const get = (path: string, who: SignedIn = owner) => p.request(path, { headers: who.headers });
const vms = () => simVms(sim);

beforeAll(async () => {
  toolchain = await tofuToolchain();
  p = await createTestPlatform();
  sim = await startTestSim({ timeScale: 0.01 });
  const tenant = await p.createTenant();
  owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
  clusterId = await addSimCluster(p, tenant.id, sim);
  tf = stacksApi(p, owner);
  await p.startCoreWorker({ terraform: { binary: toolchain.binary, cliConfigFile: toolchain.cliConfigFile, workDir: join(toolchain.dir, 'work') } });
}, 900_000);

afterAll(async () => {
  await p?.close();
  await sim?.dispose();
  if (toolchain) await rm(toolchain.dir, { recursive: true, force: true });
});

describe('Terraform stacks', () => {
  it('plan → approval → apply creates, changes and destroys a VM; secrets stay out of history, logs and the plan view', async () => {
    const stack = await tf.createStack({
      name: 'web',
      modulePath: 'proxmox-vm',
      proxmoxClusterId: clusterId,
      variables: { name: { value: 'tf-web' }, agent_timeout: { value: '2m' }, password: { value: SECRET, secret: true } },
    });
    expect(stack.variables).toContainEqual({ name: 'password', secret: true, value: null });

    // A rejected plan applies nothing.
    const rejected = await tf.startRun(stack.id);
    await tf.runState(rejected.id, (r) => r.state === 'awaiting-approval');
    await tf.approve(rejected, 'reject');
    expect(await waitForRun(p, rejected.workflowId)).toBe('COMPLETED');
    expect((await tf.runState(rejected.id, (r) => r.state !== 'awaiting-approval')).state).toBe('rejected');
    expect(await vms()).toEqual([]);

    const first = await tf.startRun(stack.id);
    // One unfinished run per stack.
    expect((await post(`/api/terraform/stacks/${stack.id}/runs`, { kind: 'apply' })).status).toBe(409);
    const planned = await tf.runState(first.id, (r) => r.state === 'awaiting-approval');
    expect(planned.diff!.summary).toEqual({ create: 1, update: 0, replace: 0, delete: 0 });
    expect(planned.diff!.resources[0]!.attributes).toContainEqual({ path: 'initialization[0].user_account[0].password', after: '(sensitive value)', sensitive: true });
    await tf.approve(first);
    expect(await waitForRun(p, first.workflowId)).toBe('COMPLETED');
    const applied = await tf.runState(first.id, (r) => r.state === 'applied');
    expect(applied.approvedBy).toBe(`user:${owner.userId}`);
    const [vm] = await vms();
    expect(vm).toMatchObject({ status: 'running', config: { name: 'tf-web', cores: 2 } });
    expect(applied.outputs!.vm_id!.value).toBe(vm!.vmid);

    // A change: the diff names the attribute, the apply changes the VM in place.
    expect((await p.request(`/api/terraform/stacks/${stack.id}`, { method: 'PATCH', headers: owner.headers, body: { variables: { cores: { value: '4' } } } })).status).toBe(200);
    const change = await tf.startRun(stack.id);
    const changePlan = await tf.runState(change.id, (r) => r.state === 'awaiting-approval');
    expect(changePlan.diff!.resources).toEqual([expect.objectContaining({ action: 'update', attributes: [{ path: 'cpu[0].cores', before: '2', after: '4' }] })]);
    await tf.approve(change);
    await waitForRun(p, change.workflowId);
    expect((await vms())[0]!.config.cores).toBe(4);

    // Nothing to do: the run ends without asking.
    const idle = await tf.startRun(stack.id);
    expect(await waitForRun(p, idle.workflowId)).toBe('COMPLETED');
    expect((await tf.runState(idle.id, (r) => r.state !== 'planning')).state).toBe('no-changes');

    // Destroy asks for the stack's name.
    const refused = await post(`/api/terraform/stacks/${stack.id}/runs`, { kind: 'destroy', confirm: 'wrong' });
    expect(refused.status).toBe(400);
    expect((await json<{ message: string }>(refused)).message).toMatch(/confirm.*"web"|"web".*confirm/);
    const destroy = await tf.startRun(stack.id, { kind: 'destroy', confirm: 'web' });
    const destroyPlan = await tf.runState(destroy.id, (r) => r.state === 'awaiting-approval');
    expect(destroyPlan.diff!.summary.delete).toBe(1);
    await tf.approve(destroy);
    await waitForRun(p, destroy.workflowId);
    expect(await vms()).toEqual([]);

    // The secret reached the VM (cloud-init) but nothing Keelson shows or records.
    const runs = await p.db.select().from(terraformRuns).where(eq(terraformRuns.stackId, stack.id));
    const logs = (await p.db.select({ data: runLogs.data }).from(runLogs)).map((r) => r.data).join('');
    expect(logs).toMatch(/proxmox_virtual_environment_vm\.this will be created/);
    expect(logs).toContain('(sensitive value)');
    expect(logs).not.toContain(SECRET);
    expect(JSON.stringify(runs.map((r) => r.diff))).not.toContain(SECRET);
    expect(JSON.stringify(await json(await get(`/api/terraform/stacks/${stack.id}`)))).not.toContain(SECRET);
    for (const run of runs) {
      const history = await openedHistory(p, run.workflowId);
      expect(history.payloads).toBeGreaterThan(0);
      expect(history.text).toContain(run.id);
      expect(history.text).not.toContain(SECRET);
    }
  }, 300_000);

  it('a plan made stale by a change to the state is refused and planned again, never applied over it', async () => {
    const variables = { name: 'tf-stale', agent_timeout: '2m' };
    const stack = await tf.createStack({ name: 'stale', modulePath: 'proxmox-vm', proxmoxClusterId: clusterId, variables: { name: { value: variables.name }, agent_timeout: { value: variables.agent_timeout } } });
    const run = await tf.startRun(stack.id);
    const planned = await tf.runState(run.id, (r) => r.state === 'awaiting-approval');
    expect(planned.diff!.summary).toEqual({ create: 1, update: 0, replace: 0, delete: 0 });

    // While the plan waits for its reviewer, someone applies the same stack by hand: the VM exists
    // and the state moved on. Applying the saved plan now would make a second VM.
    const config = await simTofuConfig(toolchain, sim, terraformBackendUrl(p.dbUrl));
    const ws: TofuWorkspace = { dir: join(toolchain.dir, 'stale-by-hand'), schema: stack.backendSchema, variables, secrets: [] };
    await prepareWorkspace(PROXMOX_VM_MODULE, ws.dir);
    expect((await runTofu(config, ws, initArgs())).code).toBe(0);
    const byHand = await runTofu(config, ws, ['apply', '-input=false', '-no-color', '-auto-approve']);
    expect(byHand.code, byHand.stderr).toBe(0);
    expect((await vms()).filter((g) => g.config.name === 'tf-stale')).toHaveLength(1);

    await tf.approve(planned);
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    const ended = await tf.runState(run.id, (r) => !['awaiting-approval', 'applying', 'planning'].includes(r.state));
    // Refused by tofu, planned again: nothing left to do, so nothing was applied.
    expect(ended).toMatchObject({ state: 'no-changes', plans: 2 });
    expect((await vms()).filter((g) => g.config.name === 'tf-stale')).toHaveLength(1);
    const log = (await p.db.select({ data: runLogs.data }).from(runLogs).where(eq(runLogs.workflowId, run.workflowId))).map((r) => r.data).join('');
    expect(log).toContain('The saved plan is stale (the state changed since it was made): planning again.');
  });

  it("the drift Schedule finds a VM changed behind Terraform's back: one finding with the diff, one alert, resolved when back in sync", async () => {
    // A drift "minute" of an hour: the Schedule never fires by itself here; the test triggers it.
    p.deps.config.terraformDriftMinuteMs = 3_600_000;
    const stack = await tf.createStack({
      name: 'drift',
      modulePath: 'proxmox-vm',
      proxmoxClusterId: clusterId,
      driftIntervalMinutes: 5,
      variables: { name: { value: 'tf-drift' }, agent_timeout: { value: '2m' }, password: { value: SECRET, secret: true } },
    });
    const schedule = await p.temporal.schedule.getHandle(terraformDriftScheduleId(stack.id)).describe();
    expect(schedule.spec.intervals).toEqual([expect.objectContaining({ every: 5 * 3_600_000 })]);
    const create = await tf.startRun(stack.id);
    await tf.runState(create.id, (r) => r.state === 'awaiting-approval');
    await tf.approve(create);
    await tf.runState(create.id, (r) => r.state === 'applied');
    const vm = (await vms()).find((g) => g.config.name === 'tf-drift')!;

    type Stack = { driftStatus: string; driftCheckedAt: string | null; drift: { id: string; diff: StackRun['diff'] & object; lastSeenAt: string } | null };
    type Alert = { id: string; kind: string; state: string; severity: string; summary: string; resolvedAt: string | null };
    const stackNow = async () => json<Stack>(await get(`/api/terraform/stacks/${stack.id}`));
    const driftAlerts = async () => (await json<{ items: Alert[] }>(await get('/api/monitoring/alerts'))).items.filter((a) => a.kind === 'drift');
    /** Triggers the Schedule and waits for the check it starts to record its verdict. */
    async function checkDrift(): Promise<Stack> {
      // A trigger while a check runs is skipped (one check at a time): let the last one end.
      const handle = p.temporal.schedule.getHandle(terraformDriftScheduleId(stack.id));
      while ((await handle.describe()).info.runningActions.length > 0) await new Promise((r) => setTimeout(r, 100));
      const before = (await stackNow()).driftCheckedAt;
      const triggered = await post(`/api/terraform/stacks/${stack.id}/drift-check`, {});
      expect(triggered.status, await triggered.clone().text()).toBe(202);
      // Temporal's scheduler serves every Schedule of the server (the suite's billing and
      // monitoring ones too): on a busy server a trigger can take minutes to start its run.
      const deadline = Date.now() + 240_000;
      while (Date.now() < deadline) {
        const now = await stackNow();
        if (now.driftCheckedAt !== before) return now;
        await new Promise((r) => setTimeout(r, 200));
      }
      const runs = [];
      for await (const e of p.temporal.workflow.list({ query: `WorkflowType = 'terraformDriftCheck'` })) if (e.workflowId.startsWith(`terraform/${stack.id}/drift`)) runs.push(`${e.workflowId} ${e.status.name}`);
      throw new Error(`the drift check never finished (drift check runs: ${runs.join(', ') || 'none'})`);
    }

    expect((await checkDrift()).driftStatus).toBe('in-sync');
    expect(await driftAlerts()).toEqual([]);

    // Someone resizes the VM on the cluster, not through Terraform.
    await apiCaller(sim).data('PUT', `/nodes/pve/qemu/${vm.vmid}/config`, { cores: 3 });
    const drifted = await checkDrift();
    expect(drifted.driftStatus).toBe('drifted');
    expect(drifted.drift!.diff.resources).toEqual([
      expect.objectContaining({ address: 'proxmox_virtual_environment_vm.this', action: 'update', attributes: [{ path: 'cpu[0].cores', before: '3', after: '2' }] }),
    ]);
    const [alert] = await driftAlerts();
    expect(alert).toMatchObject({ id: drifted.drift!.id, state: 'firing', severity: 'warning', summary: 'Terraform stack "drift" drifted from its state: 1 to change' });

    // Seen again: the same finding, refreshed, and still one alert.
    const again = await checkDrift();
    expect(again.drift!.id).toBe(drifted.drift!.id);
    expect(new Date(again.drift!.lastSeenAt).getTime()).toBeGreaterThan(new Date(drifted.drift!.lastSeenAt).getTime());
    expect((await driftAlerts()).map((a) => a.id)).toEqual([alert!.id]);

    // Put back: the finding and its alert resolve.
    await apiCaller(sim).data('PUT', `/nodes/pve/qemu/${vm.vmid}/config`, { cores: 2 });
    const synced = await checkDrift();
    expect(synced).toMatchObject({ driftStatus: 'in-sync', drift: null });
    expect(await driftAlerts()).toEqual([expect.objectContaining({ id: alert!.id, state: 'resolved', resolvedAt: expect.any(String) })]);
    const findings = await p.db.select().from(terraformDriftFindings).where(eq(terraformDriftFindings.stackId, stack.id));
    expect(findings.map((f) => f.open)).toEqual([false]);

    // The drift checks' histories hold ids, never the secret.
    const checks = [];
    for await (const execution of p.temporal.workflow.list({ query: `WorkflowType = 'terraformDriftCheck'` })) if (execution.workflowId.startsWith(`terraform/${stack.id}/drift`)) checks.push(execution.workflowId);
    expect(checks.length).toBe(4);
    for (const workflowId of checks) expect((await openedHistory(p, workflowId)).text).not.toContain(SECRET);

    const destroy = await tf.startRun(stack.id, { kind: 'destroy', confirm: 'drift' });
    await tf.runState(destroy.id, (r) => r.state === 'awaiting-approval');
    await tf.approve(destroy);
    await tf.runState(destroy.id, (r) => r.state === 'applied');
    await p.temporal.schedule.getHandle(terraformDriftScheduleId(stack.id)).delete();
  }, 900_000);

  it('checks permissions, input and organizations', async () => {
    const viewer = await p.signIn({ tenantId: owner.tenantId, role: 'viewer' });
    const other = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
    expect((await post('/api/terraform/stacks', { name: 'nope', modulePath: 'proxmox-vm' }, viewer)).status).toBe(403);
    const bad = await post('/api/terraform/stacks', { name: 'bad', modulePath: 'no-such-module' });
    expect(bad.status).toBe(400);
    expect((await json<{ message: string }>(bad)).message).toMatch(/no-such-module.*proxmox-vm/);
    expect((await post('/api/terraform/stacks', { name: 'bad', modulePath: '../../etc' })).status).toBe(400);
    const mine = await json<{ id: string }>(await post('/api/terraform/stacks', { name: 'mine', modulePath: 'proxmox-vm' }));
    expect((await get(`/api/terraform/stacks/${mine.id}`, viewer)).status).toBe(200);
    expect((await get(`/api/terraform/stacks/${mine.id}`, other)).status).toBe(404);
    expect((await post(`/api/terraform/stacks/${mine.id}/runs`, { kind: 'apply' }, other)).status).toBe(404);
    expect((await json<{ items: unknown[] }>(await get('/api/terraform/stacks', other))).items).toEqual([]);
    expect((await p.request(`/api/terraform/stacks/${mine.id}`, { method: 'PATCH', headers: other.headers, body: { variables: { a: { value: 'b' } } } })).status).toBe(404);
  });
});
