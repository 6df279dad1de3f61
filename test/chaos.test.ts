import { appRouteId, DockerLabel } from '@keelson/common/constants';
import { apps, containers, guests as guestRows, nodes, releases } from '@keelson/db/schema';
import { startProxmoxSim, type ProxmoxSim } from '@keelson/proxmox-sim';
import { DockerGuests, pickFreeSubnet } from '@keelson/proxmox-sim/guests/docker';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { getThroughProxy, startCaddy, type TestCaddy } from './caddy';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { waitForRun } from './runs';
import { createSampleApp, SAMPLE_APP_PORT, type SampleApp } from './sample-app';
import { seededRandom } from './seeded-random';
import { workerProcesses } from './worker-process';

/**
 * Chaos: container creates, deploys and VM provisions run side by side while the worker process
 * (core queue and the node's queue, as `npm run dev` runs it) is SIGKILLed at random moments,
 * `KEELSON_CHAOS_KILLS` times, the moments and the mix drawn from `KEELSON_CHAOS_SEED`. Then every
 * run must have finished exactly once and nothing may be orphaned or duplicated: Docker
 * containers, the simulator's VMs, locks and tasks, Caddy's routes, database rows.
 *
 * `npm run chaos -- --seed S --kills N` runs this file with those settings; `npm test` runs a short
 * sample with the defaults below.
 */
const SEED = Number(process.env.KEELSON_CHAOS_SEED ?? 20261202);
const KILLS = Number(process.env.KEELSON_CHAOS_KILLS ?? 2);
/** The suite's sample: the same checks over a smaller load, so it takes well under a minute. */
const SAMPLE = process.env.KEELSON_CHAOS_KILLS === undefined;

/**
 * A kill comes this long (uniform) after the worker last started has made progress: completed a
 * workflow or activity task of one of the runs. Killing a worker that has not yet done anything
 * only tests its start-up, and kills faster than restarts would starve every run.
 */
const GAP_MS = { min: 300, max: 4_000 };
/** A restarted worker that makes no progress within this long fails the run. */
const PROGRESS_TIMEOUT_MS = 120_000;
/** The killed worker stays away up to this long, so work also piles up while nothing polls. */
const MAX_DOWNTIME_MS = 1_500;
/** At most this many operations of each kind in flight. */
const IN_FLIGHT: Record<'container' | 'deploy' | 'vm', number> = SAMPLE ? { container: 1, deploy: 1, vm: 1 } : { container: 2, deploy: 2, vm: 1 };
/** How often each kind is drawn once the first of each has been started. */
const WEIGHTS = { container: 0.45, deploy: 0.35, vm: 0.2 } as const;
/** Apps the deploys are spread over (several deploys of one app queue behind its deployer). */
const APPS = 2;
const TEMPLATE_VMID = 9000;
const TOKEN_ID = 'root@pam!keelson';

type Kind = keyof typeof IN_FLIGHT;

interface Op {
  kind: Kind;
  n: number;
  /** The run; for a deploy superseded before it ran there is none. */
  workflowId?: string;
  containerId?: string;
  appIndex?: number;
  releaseId?: string;
  /** What the release answers on `/`. */
  body?: string;
  guestId?: string;
  outcome?: string;
  /** When the test asked for it and saw it finish. */
  startedAt?: number;
  endedAt?: number;
}

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`chaos: ${KILLS} worker SIGKILLs among creates, deploys and provisions (seed ${SEED})`, () => {
  let p: TestPlatform;
  let admin: SignedIn;
  let tenantId: string;
  let nodeId: string;
  let blueprintId: string;
  let clusterId: string;
  let caddy: TestCaddy;
  let sample: SampleApp;
  let sim: ProxmoxSim;
  let guests: DockerGuests;
  let dir: string;
  let network: string;
  let namespace: string;
  let adminKey: { file: string; publicKey: string };
  const appList: Array<{ id: string; hostname: string }> = [];
  const ops: Op[] = [];
  const killedDuring: string[] = [];
  /** How long each restarted worker took to complete its first task. */
  const progressAfterMs: number[] = [];
  /** Runs that did not end as they should, and runs or steps that happened more than once. */
  const lost: string[] = [];
  const duplicates: string[] = [];
  /** The after-checks that passed (containers, apps, VMs). */
  const verified = new Set<string>();
  const workers = workerProcesses(() => p);
  let startedAt = 0;
  let finishedAt = 0;

  const startWorker = () =>
    workers.start({
      KEELSON_NODE_IDS: nodeId,
      KEELSON_WORK_DIR: join(dir, 'work'),
      KEELSON_PROXY_ADMIN_URL: caddy.adminUrl,
      KEELSON_PROXY_LISTEN: `127.0.0.1:${caddy.httpPort}`,
      KEELSON_PROXY_UPSTREAMS_DIR: caddy.upstreamsDir,
    });

  async function api<T>(path: string, body?: unknown, expected = body === undefined ? 200 : 201): Promise<T> {
    const res = await p.request(path, { headers: admin.headers, body });
    const text = await res.text();
    if (res.status !== expected) throw new Error(`${body === undefined ? 'GET' : 'POST'} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  beforeAll(async () => {
    p = await createTestPlatform();
    tenantId = (await p.createTenant()).id;
    admin = await p.signIn({ tenantId, role: 'admin' });
    caddy = await startCaddy();
    dir = await mkdtemp(join(tmpdir(), 'keelson-chaos-'));
    const [node] = await p.db.insert(nodes).values({ tenantId, name: 'chaos-node', endpoint: 'unix:///var/run/docker.sock' }).returning();
    nodeId = node!.id;
    blueprintId = (
      await api<{ id: string }>('/api/blueprints', { name: 'chaos-bp', image: 'keelson/busybox:latest', command: ['sh', '-c', 'echo ready; exec sleep 86400'] })
    ).id;
    sample = createSampleApp();
    for (let i = 0; i < APPS; i++) {
      const app = await api<{ id: string; hostname: string }>('/api/apps', {
        name: `chaos-app-${i}`,
        repoUrl: sample.repoUrl,
        containerPort: SAMPLE_APP_PORT,
        healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 20, passes: 2 },
        nodeId,
        hostname: `chaos-${i}-${randomBytes(4).toString('hex')}.test`,
        watchSeconds: 1,
        drainSeconds: 0,
      });
      appList.push(app);
    }

    const suffix = randomBytes(3).toString('hex');
    namespace = `chaos-${process.pid}-${suffix}`;
    network = `keelson-pve-${namespace}`;
    const net = await pickFreeSubnet(p.docker);
    guests = new DockerGuests({ docker: p.docker, namespace, network, subnet: `${net}.0/24`, removeOnClose: true });
    sim = await startProxmoxSim({ stateDir: join(dir, 'sim'), timeScale: 0.03, tokens: [{ tokenid: TOKEN_ID }], guests });
    clusterId = (
      await api<{ id: string }>('/api/proxmox/clusters', {
        name: 'chaos-sim',
        url: sim.url,
        tokenId: TOKEN_ID,
        tokenSecret: sim.tokens[0]!.secret,
        caPem: sim.caPem,
        defaultTemplateVmid: TEMPLATE_VMID,
      })
    ).id;
    const keyFile = join(dir, 'admin-key');
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'chaos@keelson-test', '-f', keyFile]);
    adminKey = { file: keyFile, publicKey: (await readFile(`${keyFile}.pub`, 'utf8')).trim() };
  });

  afterAll(async () => {
    await workers.killAll();
    // The deployers idle for ten minutes before they end; nothing serves their queue any more.
    for (const app of appList) await p.temporal.workflow.getHandle(`app/${app.id}/deployer`).terminate('chaos test over').catch(() => undefined);
    if (tenantId) {
      for (const c of await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } })) {
        await p.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    await sim?.close().catch(() => undefined);
    await guests?.close().catch(() => undefined);
    if (namespace) {
      for (const c of await p.docker.listContainers({ all: true, filters: { label: [`io.keelson.pve-guest.namespace=${namespace}`] } })) {
        await p.docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
      }
      await p.docker.getNetwork(network).remove().catch(() => undefined);
    }
    await caddy?.stop();
    sample?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
    await p?.close();
  });

  /** Starts one operation through the API, as a user would; resolves when it has finished. */
  async function runOp(op: Op): Promise<void> {
    if (op.kind === 'container') {
      const { container, run } = await api<{ container: { id: string }; run: { workflowId: string } }>('/api/containers', {
        name: `chaos-c${op.n}`,
        nodeId,
        blueprintId,
        logCaptureSeconds: 1,
      });
      Object.assign(op, { containerId: container.id, workflowId: run.workflowId });
      op.outcome = await waitForRun(p, run.workflowId);
    } else if (op.kind === 'vm') {
      const { guest, run } = await api<{ guest: { id: string }; run: { workflowId: string } }>(
        '/api/proxmox/guests',
        { kind: 'qemu', clusterId, name: `chaos-vm${op.n}`, cores: 1, memoryMiB: 512, user: 'chaos', sshKeys: [adminKey.publicKey], ipConfig: { ip: 'dhcp' } },
        202,
      );
      Object.assign(op, { guestId: guest.id, workflowId: run.workflowId });
      op.outcome = await waitForRun(p, run.workflowId);
    } else {
      const app = appList[op.appIndex!]!;
      op.body = `chaos app ${op.appIndex} release ${op.n}`;
      const commit = sample.release(op.body);
      const queued = await api<{ releaseId: string; workflowId: string }>(`/api/apps/${app.id}/deploys`, { commit }, 202);
      Object.assign(op, { releaseId: queued.releaseId, workflowId: queued.workflowId });
      // A deploy that a newer one replaced while it waited never runs; the release says so.
      for (;;) {
        const [release] = await p.db.select().from(releases).where(eq(releases.id, queued.releaseId));
        if (release?.finishedAt) {
          if (release.status === 'superseded') op.workflowId = undefined;
          else await waitForRun(p, queued.workflowId);
          op.outcome = release.status;
          break;
        }
        await sleep(250);
      }
    }
  }

  /** Keeps operations coming, a seeded mix within the in-flight limits, until `stop()`. */
  function workload(random: () => number) {
    let stopping = false;
    const running = new Set<Promise<void>>();
    const inFlight: Record<Kind, number> = { container: 0, deploy: 0, vm: 0 };
    const first: Kind[] = (['container', 'deploy', 'vm'] as Kind[]).sort(() => random() - 0.5);
    const draw = (): Kind => {
      if (ops.length < first.length) return first[ops.length]!;
      let x = random();
      for (const [kind, weight] of Object.entries(WEIGHTS) as Array<[Kind, number]>) if ((x -= weight) < 0) return kind;
      return 'container';
    };
    const done = (async () => {
      while (!stopping) {
        const kind = draw();
        const op: Op = { kind, n: ops.length, ...(kind === 'deploy' ? { appIndex: Math.floor(random() * APPS) } : {}) };
        const pause = random() * 1_000;
        while (inFlight[kind] >= IN_FLIGHT[kind] && !stopping) await Promise.race([...running, sleep(500)]);
        if (stopping) break;
        ops.push(op);
        op.startedAt = Date.now();
        inFlight[kind]++;
        const promise = runOp(op).finally(() => {
          op.endedAt = Date.now();
          inFlight[kind]--;
          running.delete(promise);
        });
        running.add(promise);
        await sleep(pause);
      }
      // Every operation must end; the first that cannot fails the test with its reason.
      await Promise.all(running);
    })();
    return { stop: () => void (stopping = true), done };
  }

  /** What the runs in flight were doing at the moment of a kill (their pending activities). */
  async function inFlightActivities(): Promise<string> {
    const names: string[] = [];
    for (const op of ops) {
      if (op.outcome || !op.workflowId) continue;
      const d = await p.temporal.workflow.getHandle(op.workflowId).describe().catch(() => undefined);
      for (const a of d?.raw.pendingActivities ?? []) if (a.activityType?.name) names.push(a.activityType.name);
    }
    return names.sort().join('+') || 'between activities';
  }

  /**
   * Whether the worker process `pid` has completed a workflow or activity task of any run since
   * `since`: the identity Temporal records on those events is the worker's `<pid>@<host>`.
   */
  async function progressedSince(pid: number, since: number): Promise<boolean> {
    const mine = (identity: string | null | undefined) => identity?.startsWith(`${pid}@`) ?? false;
    for (const op of ops) {
      if (!op.workflowId || (op.endedAt && op.endedAt < since)) continue;
      const history = await p.temporal.workflow.getHandle(op.workflowId).fetchHistory().catch(() => undefined);
      const found = history?.events?.some(
        (e) =>
          mine(e.workflowTaskCompletedEventAttributes?.identity) ||
          mine(e.activityTaskCompletedEventAttributes?.identity) ||
          mine(e.activityTaskFailedEventAttributes?.identity),
      );
      if (found) return true;
    }
    return false;
  }

  /** Waits (capped backoff) until the worker started at `since` has made progress. */
  async function awaitProgress(worker: ChildProcess, since: number, gaveUp: () => boolean): Promise<void> {
    let pause = 100;
    while (!(await progressedSince(worker.pid!, since))) {
      if (gaveUp()) return;
      if (Date.now() - since > PROGRESS_TIMEOUT_MS) throw new Error(`the worker started ${PROGRESS_TIMEOUT_MS / 1000} s ago completed no task`);
      await sleep(pause);
      pause = Math.min(pause * 2, 1_000);
    }
    progressAfterMs.push(Date.now() - since);
  }

  it('runs every operation to completion exactly once', { timeout: 180_000 + KILLS * 30_000 }, async () => {
    onTestFailed(() => void process.stderr.write(`chaos failed with --seed ${SEED} --kills ${KILLS}\n`));
    startedAt = Date.now();
    const killRandom = seededRandom(SEED);
    let worker: ChildProcess = await startWorker();
    let workerStartedAt = Date.now();
    const load = workload(seededRandom(SEED ^ 0x5bd1e995));
    let failed: unknown;
    load.done.catch((err: unknown) => (failed = err));
    for (let k = 0; k < KILLS && !failed; k++) {
      const gap = GAP_MS.min + killRandom() * (GAP_MS.max - GAP_MS.min);
      const downtime = killRandom() * MAX_DOWNTIME_MS;
      await awaitProgress(worker, workerStartedAt, () => failed !== undefined);
      await sleep(gap);
      killedDuring.push(await inFlightActivities());
      await workers.kill(worker);
      await sleep(downtime);
      worker = await startWorker();
      workerStartedAt = Date.now();
    }
    load.stop();
    await load.done;
    finishedAt = Date.now();

    for (const op of ops) {
      const ok = op.kind === 'deploy' ? /^(live|retired|superseded)$/.test(op.outcome ?? '') : op.outcome === 'COMPLETED';
      if (!ok) lost.push(`${op.kind} ${op.n} (${op.workflowId}): ${op.outcome}`);
    }
    // Each run is one execution, completed once, and its side-effecting steps were scheduled once
    // (a step interrupted by a kill is retried as the same activity, not scheduled again).
    const onceSteps: Record<Kind, string[]> = { container: ['createContainer'], deploy: ['startRelease', 'switchTraffic'], vm: ['cloneTemplate', 'runAnsible'] };
    for (const op of ops.filter((o) => o.workflowId)) {
      const handle = p.temporal.workflow.getHandle(op.workflowId!);
      const executions = (await p.temporal.workflowService.listWorkflowExecutions({ namespace: 'default', query: `WorkflowId = '${op.workflowId}'` })).executions ?? [];
      if (executions.length !== 1) duplicates.push(`${op.workflowId}: ${executions.length} executions`);
      const events = (await handle.fetchHistory()).events ?? [];
      const completions = events.filter((e) => e.workflowExecutionCompletedEventAttributes).length;
      if (completions !== 1) duplicates.push(`${op.workflowId}: completed ${completions} times`);
      for (const step of onceSteps[op.kind]) {
        const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === step).length;
        if (scheduled !== 1) duplicates.push(`${op.workflowId}: ${step} scheduled ${scheduled} times`);
      }
    }
    expect(lost).toEqual([]);
    expect(duplicates).toEqual([]);
  });

  it('leaves exactly one running Docker container per container record, and no other', async () => {
    const created = ops.filter((o) => o.kind === 'container');
    const rows = await p.db.select().from(containers).where(eq(containers.tenantId, tenantId));
    expect(rows.map((r) => r.id).sort()).toEqual(created.map((o) => o.containerId).sort());
    const onEngine = await p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`, DockerLabel.container] } });
    expect(onEngine.map((c) => c.Labels[DockerLabel.container]).sort()).toEqual(rows.map((r) => r.id).sort());
    for (const row of rows) {
      const c = onEngine.find((x) => x.Labels[DockerLabel.container] === row.id)!;
      expect({ state: row.state, dockerId: row.dockerId, engine: c.State }).toEqual({ state: 'running', dockerId: c.Id, engine: 'running' });
    }
    verified.add('containers');
  });

  it('serves each app from its one live release, through one route, with no stray container', async () => {
    const routes = (await (await fetch(`${caddy.adminUrl}/config/apps/http/servers`)).json()) as Record<string, { routes?: Array<Record<string, unknown>> }>;
    const routeIds = Object.values(routes).flatMap((s) => (s.routes ?? []).map((r) => r['@id'] as string | undefined)).filter((id) => id?.startsWith('keelson-app-'));
    const served: string[] = [];
    for (const [index, app] of appList.entries()) {
      const requested = ops.filter((o) => o.kind === 'deploy' && o.appIndex === index);
      const rows = await p.db.select().from(releases).where(eq(releases.appId, app.id));
      // One release record per request: none lost, none doubled.
      expect(rows.map((r) => r.id).sort()).toEqual(requested.map((o) => o.releaseId).sort());
      const live = rows.filter((r) => r.status === 'live');
      const [record] = await p.db.select().from(apps).where(eq(apps.id, app.id));
      const engine = await p.docker.listContainers({ all: true, filters: { label: [`io.keelson.app=${app.id}`] } });
      if (requested.length === 0) {
        expect([live.length, engine.length]).toEqual([0, 0]);
        continue;
      }
      expect(live).toHaveLength(1);
      expect(record!.currentReleaseId).toBe(live[0]!.id);
      expect(engine.map((c) => [c.Names[0], c.State])).toEqual([[`/${live[0]!.containerName}`, 'running']]);
      served.push(appRouteId(app.id));
      // The route's upstream is the name of the newest file in its directory.
      const dir = join(caddy.upstreamsDir, appRouteId(app.id));
      const newest = readdirSync(dir).sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs)[0];
      expect(newest).toBe(live[0]!.upstream);
      const body = ops.find((o) => o.releaseId === live[0]!.id)!.body;
      expect(await getThroughProxy(caddy.httpPort, app.hostname)).toEqual({ status: 200, body });
    }
    expect(routeIds.sort()).toEqual(served.sort());
    verified.add('apps');
  });

  it('leaves one running, unlocked VM per provision, configured once, and no other', async () => {
    const provisioned = ops.filter((o) => o.kind === 'vm');
    const rows = await p.db.select().from(guestRows).where(eq(guestRows.tenantId, tenantId));
    expect(rows.map((r) => r.id).sort()).toEqual(provisioned.map((o) => o.guestId).sort());
    const state = await sim.control.state();
    const vms = state.guests.filter((g) => !g.template);
    expect(vms.map((g) => g.vmid).sort()).toEqual(rows.map((r) => r.vmid).sort());
    expect((await guests.list()).sort()).toEqual(rows.map((r) => r.vmid!).sort());
    for (const row of rows) {
      const vm = vms.find((g) => g.vmid === row.vmid)!;
      expect({ state: row.state, status: vm.status, lock: vm.lock, owner: String(vm.config.description ?? '').includes(`keelson-owner=${row.workflowId}`) }).toEqual({
        state: 'running',
        status: 'running',
        lock: undefined,
        owner: true,
      });
      const { stdout } = await execFileP('ssh', [
        ...['-i', adminKey.file, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes'],
        `chaos@${row.ip}`,
        'cat /etc/keelson-provisioned',
      ]);
      expect(stdout).toBe(`vmid=${row.vmid}\nadmin=chaos\n`);
    }
    // Every clone made one of these VMs (none repeated and thrown away); no task is left running.
    expect(state.tasks.filter((t) => t.type === 'qmclone').length).toBe(rows.length);
    expect(state.tasks.filter((t) => t.status === 'running')).toEqual([]);
    verified.add('vms');
  });

  it('prints a summary', () => {
    const count = (kind: Kind) => ops.filter((o) => o.kind === kind).length;
    const superseded = ops.filter((o) => o.outcome === 'superseded').length;
    const during = new Map<string, number>();
    for (const d of killedDuring) during.set(d, (during.get(d) ?? 0) + 1);
    const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
    const sorted = [...progressAfterMs].sort((a, b) => a - b);
    const runs = ops.filter((o) => o.workflowId).length;
    const afterChecks = ['containers', 'apps', 'vms'].filter((c) => !verified.has(c));
    const lines = [
      finishedAt
        ? `seed ${SEED}, ${killedDuring.length} of ${KILLS} kills, ${seconds(finishedAt - startedAt)} until every run had finished`
        : `seed ${SEED}, ${killedDuring.length} of ${KILLS} kills, runs still unfinished when the test gave up after ${seconds(Date.now() - startedAt)}`,
      `${ops.length} operations: ${count('container')} container creates, ${count('deploy')} deploys (${superseded} superseded while queued), ${count('vm')} VM provisions; ${runs} runs`,
      `lost: ${lost.length}${lost.length ? ` (${lost.join('; ')})` : ''}; duplicates: ${duplicates.length}${duplicates.length ? ` (${duplicates.join('; ')})` : ''}`,
      afterChecks.length
        ? `orphans and duplicates on the engine, the proxy, the simulator and in the database: NOT verified (${afterChecks.join(', ')} failed or did not run)`
        : `orphans and duplicates: none (Docker containers, release containers, Caddy routes, simulator VMs, locks, tasks, database rows)`,
      sorted.length ? `a started worker completed its first task after ${seconds(sorted[0]!)} (fastest), ${seconds(sorted[Math.floor(sorted.length / 2)]!)} (median), ${seconds(sorted.at(-1)!)} (slowest)` : 'no worker progress measured',
      `longest operation of each kind: ${(['container', 'deploy', 'vm'] as Kind[])
        .map((kind) => `${kind} ${seconds(Math.max(0, ...ops.filter((o) => o.kind === kind && o.endedAt).map((o) => o.endedAt! - o.startedAt!)))}`)
        .join(', ')}`,
      `killed while in flight: ${[...during.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    ];
    process.stderr.write(lines.map((l) => `chaos │ ${l}\n`).join(''));
    expect(killedDuring).toHaveLength(KILLS);
  });
});
