import { encryptSecret } from '@keelson/common/codec';
import { keelsonCodec } from '@keelson/common/temporal';
import { createPostgresDataKeys } from '@keelson/db';
import { proxmoxClusters, runLogs, terraformRuns } from '@keelson/db/schema';
import { startTestSim, TOKEN_ID, TOKEN_SECRET, type TestSim } from '@keelson/proxmox-sim/testing';
import type { Payload } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { waitForRun } from '../../../../test/runs';
import { tofuToolchain, type TofuToolchain } from '../../../../test/terraform-harness';

// Stacks end to end: the API, the terraformRun workflow on a real worker, the real tofu with state
// in Postgres, infra/terraform/proxmox-vm against the Proxmox simulator.

const SECRET = `s3cret-${randomBytes(8).toString('hex')}`;
let p: TestPlatform;
let sim: TestSim;
let toolchain: TofuToolchain;
let owner: SignedIn;
let clusterId: string;

const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;
const post = (path: string, body: unknown, who: SignedIn = owner) => p.request(path, { method: 'POST', headers: who.headers, body });
const get = (path: string, who: SignedIn = owner) => p.request(path, { headers: who.headers });

type Run = { id: string; workflowId: string; state: string; diff: { summary: Record<string, number>; resources: Array<{ action: string; attributes: Array<{ path: string; before?: string; after?: string }> }> } | null; approvedBy: string | null; outputs: Record<string, { value: unknown }> | null };

async function runState(runId: string, until: (run: Run) => boolean): Promise<Run> {
  for (let i = 0; i < 600; i++) {
    const run = await json<Run>(await get(`/api/terraform/runs/${runId}`));
    if (until(run)) return run;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`run ${runId} never reached the expected state`);
}

async function startRun(stackId: string, body: Record<string, unknown> = { kind: 'apply' }): Promise<Run> {
  const res = await post(`/api/terraform/stacks/${stackId}/runs`, body);
  expect(res.status, await res.clone().text()).toBe(201);
  return json<Run>(res);
}

async function approve(run: Run, decision: 'approve' | 'reject' = 'approve') {
  const res = await post(`/api/runs/${encodeURIComponent(run.workflowId)}/approval`, { decision, comment: 'looks right' });
  expect(res.status, await res.clone().text()).toBe(200);
}

const vms = async () => (await sim.control.state()).guests.filter((g: { vmid: number }) => g.vmid !== 9000) as Array<{ vmid: number; status: string; config: Record<string, unknown> }>;

/** Every payload of the run's history, opened with the organization's keys, as text. */
async function openedHistory(workflowId: string): Promise<string> {
  const codec = keelsonCodec(TEST_KEYS, createPostgresDataKeys(p.db, TEST_KEYS));
  const history = await p.temporal.workflow.getHandle(workflowId).fetchHistory();
  const payloads: Payload[] = [];
  const walk = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    if ('metadata' in value && 'data' in value && (value as Payload).metadata) payloads.push(value as Payload);
    for (const item of Object.values(value)) walk(item);
  };
  walk(history.events);
  expect(payloads.length).toBeGreaterThan(0);
  const opened = await codec.decode(payloads);
  return opened.map((payload) => Buffer.from(payload.data ?? []).toString('utf8')).join('\n');
}

beforeAll(async () => {
  toolchain = await tofuToolchain();
  p = await createTestPlatform();
  sim = await startTestSim({ timeScale: 0.01 });
  const tenant = await p.createTenant();
  owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
  const [cluster] = await p.db
    .insert(proxmoxClusters)
    .values({ tenantId: tenant.id, name: 'sim', url: sim.url, tokenId: TOKEN_ID, tokenSecretSealed: encryptSecret(TEST_KEYS, TOKEN_SECRET), caPem: sim.caPem })
    .returning({ id: proxmoxClusters.id });
  clusterId = cluster!.id;
  await p.startCoreWorker({ terraform: { binary: toolchain.binary, cliConfigFile: toolchain.cliConfigFile, workDir: join(toolchain.dir, 'work') } });
}, 900_000);

afterAll(async () => {
  await p?.close();
  await sim?.dispose();
  if (toolchain) await rm(toolchain.dir, { recursive: true, force: true });
});

describe('Terraform stacks', () => {
  it('plan → approval → apply creates, changes and destroys a VM; secrets stay out of history, logs and the plan view', async () => {
    const created = await post('/api/terraform/stacks', {
      name: 'web',
      modulePath: 'proxmox-vm',
      proxmoxClusterId: clusterId,
      variables: { name: { value: 'tf-web' }, agent_timeout: { value: '2m' }, password: { value: SECRET, secret: true } },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const stack = await json<{ id: string; variables: unknown[]; backendSchema: string }>(created);
    expect(stack.variables).toContainEqual({ name: 'password', secret: true, value: null });

    // A rejected plan applies nothing.
    const rejected = await startRun(stack.id);
    await runState(rejected.id, (r) => r.state === 'awaiting-approval');
    await approve(rejected, 'reject');
    expect(await waitForRun(p, rejected.workflowId)).toBe('COMPLETED');
    expect((await runState(rejected.id, (r) => r.state !== 'awaiting-approval')).state).toBe('rejected');
    expect(await vms()).toEqual([]);

    const first = await startRun(stack.id);
    // One unfinished run per stack.
    expect((await post(`/api/terraform/stacks/${stack.id}/runs`, { kind: 'apply' })).status).toBe(409);
    const planned = await runState(first.id, (r) => r.state === 'awaiting-approval');
    expect(planned.diff!.summary).toEqual({ create: 1, update: 0, replace: 0, delete: 0 });
    expect(planned.diff!.resources[0]!.attributes).toContainEqual({ path: 'initialization[0].user_account[0].password', after: '(sensitive value)', sensitive: true });
    await approve(first);
    expect(await waitForRun(p, first.workflowId)).toBe('COMPLETED');
    const applied = await runState(first.id, (r) => r.state === 'applied');
    expect(applied.approvedBy).toBe(`user:${owner.userId}`);
    const [vm] = await vms();
    expect(vm).toMatchObject({ status: 'running', config: { name: 'tf-web', cores: 2 } });
    expect(applied.outputs!.vm_id!.value).toBe(vm!.vmid);

    // A change: the diff names the attribute, the apply changes the VM in place.
    expect((await p.request(`/api/terraform/stacks/${stack.id}`, { method: 'PATCH', headers: owner.headers, body: { variables: { cores: { value: '4' } } } })).status).toBe(200);
    const change = await startRun(stack.id);
    const changePlan = await runState(change.id, (r) => r.state === 'awaiting-approval');
    expect(changePlan.diff!.resources).toEqual([expect.objectContaining({ action: 'update', attributes: [{ path: 'cpu[0].cores', before: '2', after: '4' }] })]);
    await approve(change);
    await waitForRun(p, change.workflowId);
    expect((await vms())[0]!.config.cores).toBe(4);

    // Nothing to do: the run ends without asking.
    const idle = await startRun(stack.id);
    expect(await waitForRun(p, idle.workflowId)).toBe('COMPLETED');
    expect((await runState(idle.id, (r) => r.state !== 'planning')).state).toBe('no-changes');

    // Destroy asks for the stack's name.
    const refused = await post(`/api/terraform/stacks/${stack.id}/runs`, { kind: 'destroy', confirm: 'wrong' });
    expect(refused.status).toBe(400);
    expect((await json<{ message: string }>(refused)).message).toMatch(/confirm.*"web"|"web".*confirm/);
    const destroy = await startRun(stack.id, { kind: 'destroy', confirm: 'web' });
    const destroyPlan = await runState(destroy.id, (r) => r.state === 'awaiting-approval');
    expect(destroyPlan.diff!.summary.delete).toBe(1);
    await approve(destroy);
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
      const history = await openedHistory(run.workflowId);
      expect(history).toContain(run.id);
      expect(history).not.toContain(SECRET);
    }
  }, 300_000);

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
