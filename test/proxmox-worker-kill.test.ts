import type { VmProvisionInput, VmProvisionResult } from '../workflows/vm-provision';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startProxmoxHarness, TEMPLATE_VMID, type ProxmoxHarness } from './proxmox-harness';

/**
 * The worker is stopped at random points of VM provisioning, one stop per run, and each run must
 * still finish exactly once with exactly one VM. The points are drawn from a seeded generator so a
 * failure can be replayed: KEELSON_KILL_SEED=<seed> npx vitest run test/proxmox-worker-kill.test.ts
 */

/**
 * The provisioning's activities in the order vmProvision schedules them. Most of a run's wall
 * time is Ansible, so stops drawn uniformly over the run would nearly all land there: one stop is
 * aimed into each step (at a random point of it), the others anywhere in the run.
 */
const STEPS = ['pickNode', 'reserveVmid', 'cloneTemplate', 'configureVm', 'resizeDisk', 'startVm', 'waitForAgentIp', 'runAnsible'] as const;
/** Stops aimed anywhere in the run, after the one per step. */
const ANYWHERE = 2;
const KILLS = STEPS.length + ANYWHERE;
/** A stop aimed at a fraction of the run lands before this much of the reference run had passed. */
const LATEST = 0.9;
/** The stopped worker stays away up to this long, so work also piles up while no worker polls. */
const MAX_DOWNTIME_MS = 1_000;
/** A run that finished before its stop came is replaced by a new one with the delay halved, this often. */
const MAX_TRIES = 3;

const seed = Number(process.env.KEELSON_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
function seededRandom(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let h: ProxmoxHarness;

beforeAll(async () => {
  h = await startProxmoxHarness('pve-kill');
});
afterAll(async () => {
  await h?.close();
});

const vmInput = (name: string): VmProvisionInput => ({
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
});

/**
 * The run completed once, and the simulator holds exactly one VM that carries its owner mark: the
 * one it returned, running, unlocked, configured by Ansible and reachable over SSH.
 */
async function expectProvisionedOnce(workflowId: string, result: VmProvisionResult): Promise<void> {
  const handle = h.platform.temporal.workflow.getHandle(workflowId);
  const description = await handle.describe();
  expect(description.status.name).toBe('COMPLETED');
  // One execution under this id: no retry of the whole run, no continue-as-new.
  expect(description.runId).toBe(description.raw.workflowExecutionInfo?.firstRunId);
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.filter((e) => e.workflowExecutionCompletedEventAttributes).length).toBe(1);

  const state = await h.sim.control.state();
  const owned = state.guests.filter((g) => !g.template && String(g.config.description ?? '').split('\n').includes(`keelson-owner=${workflowId}`));
  expect(owned.map((g) => g.vmid)).toEqual([result.vmid]);
  expect(owned[0]).toMatchObject({ status: 'running', name: result.name });
  expect(owned[0]!.lock).toBeUndefined();
  expect(await h.ssh(result.ip, 'alice', h.adminKey, 'cat /etc/keelson-provisioned')).toBe(`vmid=${result.vmid}\nadmin=alice\n`);
}

/** When each step began and how long until the next one began, in the reference run (ms from its start). */
interface StepTiming {
  startMs: number;
  windowMs: number;
}

/** From a run's history: when each activity was first scheduled, relative to the run's start. */
async function stepTimings(workflowId: string): Promise<{ steps: Map<string, StepTiming>; totalMs: number }> {
  const events = (await h.platform.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
  const started = at(events[0]!);
  const totalMs = at(events.at(-1)!) - started;
  const scheduled: Array<[string, number]> = [];
  for (const e of events) {
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type && !scheduled.some(([t]) => t === type)) scheduled.push([type, at(e) - started]);
  }
  const steps = new Map<string, StepTiming>();
  scheduled.forEach(([type, startMs], i) => steps.set(type, { startMs, windowMs: (scheduled[i + 1]?.[1] ?? totalMs) - startMs }));
  return { steps, totalMs };
}

describe(`a worker stopped at random points of VM provisioning (seed ${seed})`, () => {
  const random = seededRandom(seed);
  let reference: Awaited<ReturnType<typeof stepTimings>> | undefined;
  const finished: VmProvisionResult[] = [];
  /** What each run was doing when the worker stopped, for the report at the end. */
  const stoppedDuring: string[] = [];

  beforeAll(() => {
    process.stderr.write(`proxmox-worker-kill: seed ${seed} (replay with KEELSON_KILL_SEED=${seed})\n`);
  });

  it('provisions a VM undisturbed, to learn when each step begins', { timeout: 120_000 }, async () => {
    onTestFailed(() => void process.stderr.write(`proxmox-worker-kill failed with KEELSON_KILL_SEED=${seed}\n`));
    const run = await h.start<VmProvisionResult>('vmProvision', vmInput('kill-ref'));
    const result = await run.result();
    await expectProvisionedOnce(run.workflowId, result);
    finished.push(result);
    reference = await stepTimings(run.workflowId);
    expect([...reference.steps.keys()]).toEqual([...STEPS]);
  });

  /** Waits until the run has scheduled an activity of this type. */
  async function waitForStep(workflowId: string, step: string): Promise<void> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const history = await h.platform.temporal.workflow.getHandle(workflowId).fetchHistory();
      if ((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === step)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${workflowId} never scheduled ${step}`);
  }

  for (let i = 0; i < KILLS; i++) {
    // Drawn up front, in order, so the points depend on the seed alone.
    const step = STEPS[i];
    const fraction = random() * (step === undefined || step === 'runAnsible' ? LATEST : 1);
    const downtimeMs = Math.round(random() * MAX_DOWNTIME_MS);
    const where = step ? `${(fraction * 100).toFixed(0)}% into ${step}` : `${(fraction * 100).toFixed(0)}% into the run`;

    it(`finishes exactly once when the worker stops ${where} (down ${downtimeMs} ms)`, { timeout: 150_000 }, async () => {
      onTestFailed(() => void process.stderr.write(`proxmox-worker-kill failed with KEELSON_KILL_SEED=${seed} (stop ${i + 1}/${KILLS}: ${where})\n`));
      expect(reference, 'the reference run must have passed').toBeDefined();
      for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
        const scale = 0.5 ** attempt;
        const run = await h.start<VmProvisionResult>('vmProvision', vmInput(`kill-${i}-${attempt}`));
        const handle = h.platform.temporal.workflow.getHandle(run.workflowId);
        if (step) {
          await waitForStep(run.workflowId, step);
          await new Promise((r) => setTimeout(r, fraction * scale * reference!.steps.get(step)!.windowMs));
        } else {
          await new Promise((r) => setTimeout(r, fraction * scale * reference!.totalMs));
        }
        const before = await handle.describe();
        // A run that went faster than the reference and ended first proves nothing: try again sooner.
        const counts = before.status.name === 'RUNNING';
        if (counts) {
          const inFlight = (before.raw.pendingActivities ?? []).map((a) => a.activityType?.name).join('+');
          stoppedDuring.push(inFlight || 'between activities');
          // Shutdown cancels the in-flight activity after the harness's 1 s grace time; the next
          // worker gets the retry and must adopt what the stopped attempt started, not repeat it.
          await h.stopWorker();
          await new Promise((r) => setTimeout(r, downtimeMs));
          await h.startWorker();
        }
        const result = await run.result();
        await expectProvisionedOnce(run.workflowId, result);
        finished.push(result);
        if (counts) return;
      }
      throw new Error(`every run ended before its stop came (${MAX_TRIES} tries)`);
    });
  }

  it('leaves no orphaned or duplicate VM, container or lock behind', async () => {
    onTestFailed(() => void process.stderr.write(`proxmox-worker-kill failed with KEELSON_KILL_SEED=${seed}\n`));
    process.stderr.write(`proxmox-worker-kill: seed ${seed}, stops during: ${stoppedDuring.join(', ')}\n`);
    expect(stoppedDuring).toHaveLength(KILLS);
    const { guests, containers } = await h.leftovers();
    const vmids = finished.map((r) => r.vmid).sort((a, b) => a - b);
    expect(new Set(vmids).size).toBe(vmids.length);
    expect(guests.map((g) => g.vmid).sort((a, b) => a - b)).toEqual(vmids);
    expect(containers).toEqual(vmids);
    const state = await h.sim.control.state();
    expect(state.guests.filter((g) => g.lock !== undefined)).toEqual([]);
    // Every clone the runs started made one of these VMs: none was repeated and thrown away.
    expect(state.tasks.filter((t) => t.type === 'qmclone').length).toBe(vmids.length);
    expect(state.tasks.filter((t) => t.status === 'running')).toEqual([]);
  });
});
