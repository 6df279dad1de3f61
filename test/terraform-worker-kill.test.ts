import { initArgs, prepareWorkspace, processRunning, runTofu, type TofuWorkspace } from '@keelson/activities/terraform/tofu';
import { runLogs, terraformRuns } from '@keelson/db/schema';
import { startTestSim, type TestSim } from '@keelson/proxmox-sim/testing';
import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terraformBackendUrl } from '../workers/src/workers';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { waitForRun } from './runs';
import { addSimCluster, PROXMOX_VM_MODULE, simTofuConfig, simVms, stacksApi, tofuToolchain, type TofuToolchain } from './terraform-harness';
import { until, workerProcesses } from './worker-process';

/**
 * The worker process is SIGKILLed while tofu applies a stack (the VM being cloned on the
 * simulator). tofu runs on without it and finishes; the retried apply on a new worker waits for
 * it, shows its output, finds the state lock free, plans again and finds nothing left to do.
 */
describe('a worker SIGKILLed during a Terraform apply', () => {
  const SECRET = `pw-${randomBytes(8).toString('hex')}`;
  let p: TestPlatform;
  let sim: TestSim;
  let toolchain: TofuToolchain;
  let owner: SignedIn;
  const workers = workerProcesses(() => p);

  beforeAll(async () => {
    toolchain = await tofuToolchain();
    p = await createTestPlatform();
    sim = await startTestSim({ timeScale: 0.01 });
    owner = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'owner' });
  }, 900_000);
  afterAll(async () => {
    await workers.killAll();
    await p?.close();
    await sim?.dispose();
    if (toolchain) await rm(toolchain.dir, { recursive: true, force: true });
  });

  it('ends the run exactly once, with the VM created once and the state lock free', { timeout: 300_000 }, async () => {
    const env = { KEELSON_TOFU_BINARY: toolchain.binary, KEELSON_TOFU_CLI_CONFIG: toolchain.cliConfigFile, KEELSON_WORK_DIR: join(toolchain.dir, 'work') };
    let worker = await workers.start(env);
    const tf = stacksApi(p, owner);
    const variables = { name: 'tf-kill', agent_timeout: '2m', password: SECRET };
    const stack = await tf.createStack({
      name: 'kill',
      modulePath: 'proxmox-vm',
      proxmoxClusterId: await addSimCluster(p, owner.tenantId, sim),
      variables: { name: { value: variables.name }, agent_timeout: { value: variables.agent_timeout }, password: { value: SECRET, secret: true } },
    });
    const run = await tf.startRun(stack.id);
    await tf.runState(run.id, (r) => r.state === 'awaiting-approval');

    // A cluster at half speed: the apply takes seconds, and the kill lands while the VM is cloned.
    await sim.control.setTimeScale(0.5);
    await tf.approve(run);
    const attempt = await until(
      'tofu applying, the VM being cloned',
      async () => {
        const [row] = await p.db.select({ attempt: terraformRuns.applyAttempt }).from(terraformRuns).where(eq(terraformRuns.id, run.id));
        return row?.attempt?.pid !== undefined && (await simVms(sim)).length > 0 ? row.attempt : undefined;
      },
      120_000,
    );
    await workers.kill(worker);
    // tofu outlives its worker (its own process group, output to files rather than pipes).
    expect(processRunning(attempt.pid!)).toBe(true);
    await until('the orphaned tofu to finish', async () => !processRunning(attempt.pid!), 120_000);
    await sim.control.setTimeScale(0.01);

    worker = await workers.start(env);
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');

    // The run ended once: one execution, one completion, applied after a second plan that found
    // nothing left to do (no second approval was asked for).
    const handle = p.temporal.workflow.getHandle(run.workflowId);
    const description = await handle.describe();
    expect(description.runId).toBe(description.raw.workflowExecutionInfo?.firstRunId);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionCompletedEventAttributes).length).toBe(1);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'terraformApply').length).toBe(1);
    const done = await tf.run(run.id);
    expect(done).toMatchObject({ state: 'applied', plans: 2, error: null });

    // The VM exists exactly once, as the one apply made it, and the run's outputs name it.
    const vms = await simVms(sim);
    expect(vms).toHaveLength(1);
    expect(vms[0]).toMatchObject({ status: 'running', config: { name: 'tf-kill', cores: 2 } });
    expect(vms[0]!.lock).toBeUndefined();
    expect(done.outputs?.vm_id?.value).toBe(vms[0]!.vmid);
    const [row] = await p.db.select({ attempt: terraformRuns.applyAttempt }).from(terraformRuns).where(eq(terraformRuns.id, run.id));
    expect(row!.attempt).toBeNull();

    // The run's log tells what happened, including what tofu printed after its worker died.
    const log = (await p.db.select({ data: runLogs.data }).from(runLogs).where(eq(runLogs.workflowId, run.workflowId))).map((r) => r.data).join('');
    expect(log).toContain(`An earlier apply of this run (tofu pid ${attempt.pid} on`);
    expect(log).toMatch(/Its output, in full:\n[\s\S]*Apply complete! Resources: 1 added, 0 changed, 0 destroyed/);
    expect(log).toContain(`The state lock of schema ${stack.backendSchema} is free.`);
    expect(log).toContain('No changes.');
    expect(log).not.toContain(SECRET);

    // The lock is free: a plan by hand, locking as usual and waiting for nobody, finds the VM in state.
    const config = await simTofuConfig(toolchain, sim, terraformBackendUrl(p.dbUrl));
    const ws: TofuWorkspace = { dir: join(toolchain.dir, 'by-hand'), schema: stack.backendSchema, variables, secrets: [SECRET] };
    await prepareWorkspace(PROXMOX_VM_MODULE, ws.dir);
    expect((await runTofu(config, ws, initArgs())).code).toBe(0);
    const plan = await runTofu(config, ws, ['plan', '-input=false', '-no-color', '-detailed-exitcode', '-lock-timeout=0s']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('No changes.');
  });
});
