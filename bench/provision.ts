/**
 * `npm run bench:provision`: the time to provision a VM through Keelson (POST /api/proxmox/guests
 * → the vmProvision run completed) on the Proxmox simulator with Docker-backed guests and real
 * Ansible, split into
 *   Proxmox tasks   the clone, resize and start tasks, from each UPID's start to the task's end
 *   guest           the guest's own time: its agent coming up after the start task, the playbook
 *   overhead        the rest: HTTP, workflow and activity dispatch, polling latency, Postgres
 * next to the same sequence of Proxmox calls made by a plain script with the proxmox-api client
 * (clone → wait → config → resize → wait → start → wait → agent → the same ansible-playbook),
 * measured the same way in the same run. Progress on stderr; a table and, last, a one-line JSON
 * summary on stdout (also in bench/results/).
 */
import { DEFAULT_ANSIBLE_DIR } from '@keelson/activities/proxmox/index';
import { createPinnedFetch, parseUpid, type ControlClient } from '@keelson/proxmox-sim';
import { createControlClient } from '@keelson/proxmox-sim/control-client';
import { pickFreeSubnet } from '@keelson/proxmox-sim/guests/docker';
import type { VmProvisionResult } from '@keelson/workflows/vm-provision';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import Docker from 'dockerode';
import proxmoxApi from 'proxmox-api';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { startBenchPlatform } from './platform';
import { percentile, round } from './stats';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'time-scale': { type: 'string', default: '1' },
    'raw-poll-ms': { type: 'string', default: '100' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench:provision -- [--n 3 (measured runs per side)] [--warmup 1] [--time-scale 1] [--raw-poll-ms 100]');
  process.exit(0);
}
const runs = Number(values.n);
const warmup = Number(values.warmup);
const timeScale = Number(values['time-scale']);
const rawPollMs = Number(values['raw-poll-ms']);

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const log = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });

const TOKEN_ID = 'root@pam!bench';
const TEMPLATE_VMID = 9000;
/** The VM both sides make: a full clone of the 2 GiB template grown to 8 GiB (clone, resize and start tasks). */
const VM = { cores: 1, memoryMiB: 512, diskGiB: 8 } as const;
const CI_USER = 'keelson';
const ADMIN_USER = 'bench';
/** How often the observer looks for new tasks and probes a starting guest's agent. */
const OBSERVE_EVERY_MS = 50;

type Px = ReturnType<typeof proxmoxApi>;

/** One provisioning, either side, split into its parts (all ms). */
interface Sample {
  side: 'keelson' | 'raw';
  vmid: number;
  totalMs: number;
  tasksMs: number;
  agentMs: number;
  ansibleMs: number;
  overheadMs: number;
  /** Keelson only: POST /api/proxmox/guests → its 202. */
  apiMs?: number;
  /** Keelson only: where its overhead went, from the run's history. */
  overheadSplit?: OverheadSplit;
  tasks: Array<{ type: string; ms: number }>;
}

// ---------------------------------------------------------------------------------------------
// What runs the guests' playbook: a wrapper in front of the real ansible-playbook, first on PATH
// for this process (the worker's activity and the raw script both spawn `ansible-playbook` by
// name), that records when the real one started and exited. The playbook's own time is the
// guest's; what happens around it (temporary files, the run log) stays in the overhead.

const shimDir = mkdtempSyncIn('keelson-bench-ansible-');
const ansibleRuns = join(shimDir, 'runs.log');
const realAnsible = (await run('bash', ['-c', 'command -v ansible-playbook'])).stdout.trim();
if (!realAnsible) throw new Error('ansible-playbook is not on PATH');
writeFileSync(
  join(shimDir, 'ansible-playbook'),
  `#!/usr/bin/env bash
start=$EPOCHREALTIME
${JSON.stringify(realAnsible)} "$@"
code=$?
end=$EPOCHREALTIME
host=; prev=
for arg in "$@"; do [ "$prev" = -i ] && host=\${arg%,}; prev=$arg; done
echo "$start $end $code $host" >> ${JSON.stringify(ansibleRuns)}
exit $code
`,
);
chmodSync(join(shimDir, 'ansible-playbook'), 0o755);
process.env.PATH = `${shimDir}:${process.env.PATH}`;

function mkdtempSyncIn(prefix: string): string {
  const dir = join(tmpdir(), `${prefix}${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

/** The playbook runs against `host` that started in [from, to]: their summed duration. */
async function ansibleMsFor(host: string, from: number, to: number): Promise<number> {
  const lines = (await readFile(ansibleRuns, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  let ms = 0;
  for (const line of lines) {
    const [start, end, , runHost] = line.split(' ');
    const startMs = Number(start) * 1000;
    if (runHost === host && startMs >= from && startMs <= to) ms += Number(end) * 1000 - startMs;
  }
  return ms;
}

// ---------------------------------------------------------------------------------------------
// The simulator, in a process of its own as a real cluster would be on another host, so its TLS
// handshakes and state writes do not run on the event loop of the worker being measured.

interface Sim {
  url: string;
  caPem: string;
  tokenSecret: string;
  control: ControlClient;
  /** Unix ms at which each node booted: a UPID's pstart counts 1/100 s from there. */
  bootedAt: Map<string, number>;
  stop(): Promise<void>;
}

async function startSimulator(docker: Docker): Promise<Sim> {
  const stateDir = await mkdtemp(join(tmpdir(), 'keelson-bench-pve-'));
  const namespace = `bench-${process.pid}-${randomBytes(2).toString('hex')}`;
  const network = `keelson-pve-${namespace}`;
  const net = await pickFreeSubnet(docker);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'tools/proxmox-sim/src/cli.ts',
      ...['--state-dir', stateDir, '--port', '0', '--time-scale', String(timeScale), '--guests', 'docker', '--token', TOKEN_ID],
      ...['--docker-namespace', namespace, '--docker-network', network, '--docker-subnet', `${net}.0/24`],
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const removeGuests = async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`io.keelson.pve-guest.namespace=${namespace}`] } });
    for (const c of left) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    await docker.getNetwork(network).remove().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    // The CLI's guests outlive it (as VMs outlive a restarted API); these were only the bench's.
    await removeGuests();
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      void exited.then(() => reject(new Error('the Proxmox simulator exited before it listened')));
    });
    const started = JSON.parse(line) as { url: string; caFile: string; controlToken: string; tokens: Array<{ tokenid: string; secret: string }> };
    const caPem = await readFile(started.caFile, 'utf8');
    const pinned = createPinnedFetch(caPem);
    const control = createControlClient({ url: started.url, token: started.controlToken, fetch: (target, init) => pinned(target, init) });
    // The node's boot time is not in the API (uptime is whole seconds); the state file has it.
    // The simulator writes it shortly after it listens: wait for it.
    const state = JSON.parse(await readWhenThere(join(stateDir, 'state.json'))) as { nodes: Array<{ name: string; bootedAt: number }> };
    return {
      url: started.url,
      caPem,
      tokenSecret: started.tokens.find((t) => t.tokenid === TOKEN_ID)!.secret,
      control,
      bootedAt: new Map(state.nodes.map((n) => [n.name, n.bootedAt])),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function connect(sim: Sim): Px {
  const { hostname, port } = new URL(sim.url);
  return proxmoxApi({ host: hostname, port: Number(port), schema: 'https', tokenID: TOKEN_ID, tokenSecret: sim.tokenSecret, fetch: createPinnedFetch(sim.caPem) as never });
}

// ---------------------------------------------------------------------------------------------
// The observer: sees every task of the simulator and when it ends, and when a started guest's
// agent first reports an address. Both sides are measured by it alike.

interface ObservedTask {
  upid: string;
  type: string;
  id: string;
  startMs: number;
  endMs?: number;
}

function observe(sim: Sim, px: Px) {
  const tasks = new Map<string, ObservedTask>();
  const agentUpAt = new Map<number, number>();
  /** Tasks that had already ended when first seen (their end is then an upper bound). */
  let seenLate = 0;
  let stopped = false;

  const probeAgent = async (vmid: number) => {
    const until = Date.now() + 300_000;
    while (!stopped && Date.now() < until) {
      const reply = (await px.nodes
        .$('pve')
        .qemu.$(vmid)
        .agent['network-get-interfaces'].$get()
        .catch(() => undefined)) as { result?: Array<{ name: string; 'ip-addresses'?: Array<{ 'ip-address-type': string }> }> } | undefined;
      if (reply?.result?.some((i) => i.name !== 'lo' && i['ip-addresses']?.some((a) => a['ip-address-type'] === 'ipv4'))) {
        agentUpAt.set(vmid, Date.now());
        return;
      }
      await sleep(OBSERVE_EVERY_MS);
    }
  };

  /** When the last poll that completed had started: tasks that began before then have been seen. */
  let polledFrom = 0;
  const loop = (async () => {
    while (!stopped) {
      const pollStarted = Date.now();
      const state = await sim.control.state().catch((err: Error) => {
        log(`observer: ${err.message}`);
        return undefined;
      });
      for (const task of state?.tasks ?? []) {
        if (tasks.has(task.upid)) continue;
        const upid = parseUpid(task.upid)!;
        // pstart: the task's start in 1/100 s since the node booted, as in PVE.
        const seen: ObservedTask = { upid: task.upid, type: task.type, id: task.id, startMs: sim.bootedAt.get(upid.node)! + upid.pstart * 10 };
        tasks.set(task.upid, seen);
        if (task.status === 'running') {
          void sim.control
            .waitForTask(task.upid)
            .then(() => (seen.endMs = Date.now()))
            .catch(() => (seen.endMs ??= Date.now()));
          if (task.type === 'qmstart') void probeAgent(Number(task.id));
        } else {
          seenLate++;
          seen.endMs = Date.now();
        }
      }
      if (state) polledFrom = pollStarted;
      await sleep(OBSERVE_EVERY_MS);
    }
  })();

  return {
    /** Waits until every task that started in [from, to] has been seen to end. */
    async tasksIn(from: number, to: number): Promise<ObservedTask[]> {
      const deadline = Date.now() + 300_000;
      while (Date.now() < deadline) {
        const within = [...tasks.values()].filter((t) => t.startMs >= from && t.startMs <= to);
        if (polledFrom > to && within.every((t) => t.endMs !== undefined)) return within;
        await sleep(OBSERVE_EVERY_MS);
      }
      throw new Error('the observer did not see every task of the run end within 5 min');
    },
    agentUpAt: (vmid: number) => agentUpAt.get(vmid),
    seenLate: () => seenLate,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

type Observer = ReturnType<typeof observe>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Splits a provisioning of `vmid` that ran in [from, to] into tasks, guest and overhead. */
async function split(observer: Observer, side: Sample['side'], vmid: number, ip: string, from: number, to: number): Promise<Sample> {
  const tasks = await observer.tasksIn(from, to);
  const tasksMs = tasks.reduce((sum, t) => sum + (t.endMs! - t.startMs), 0);
  const started = tasks.filter((t) => t.type === 'qmstart' && t.id === String(vmid)).at(-1);
  const agentUp = observer.agentUpAt(vmid);
  // The agent may answer before the start task ends (the guest boots inside it): then none of the
  // wait is the guest's.
  const agentMs = started?.endMs !== undefined && agentUp !== undefined ? Math.max(0, agentUp - started.endMs) : 0;
  const ansibleMs = await ansibleMsFor(ip, from, to);
  const totalMs = to - from;
  return { side, vmid, totalMs, tasksMs, agentMs, ansibleMs, overheadMs: totalMs - tasksMs - agentMs - ansibleMs, tasks: tasks.map((t) => ({ type: t.type, ms: t.endMs! - t.startMs })) };
}

/**
 * Keelson's overhead by where it happens, from the run's history (event times are the Temporal
 * server's clock, the same machine's):
 *   toStart     the POST until the run's first event (HTTP, API key, transaction, the start)
 *   workflow    between activities: a completion reaching the worker, its workflow task, the next
 *               activity scheduled (and from the last one to the run's completion)
 *   dispatch    each activity from scheduled to started (the task queue's poll; a retried
 *               activity's earlier attempts land here too, as history records only the last start)
 *   inActivity  inside the activities, minus the Proxmox tasks and the guest: cluster lookup,
 *               extra reads, the polls' backoff after a task or the agent was done, the run log
 *   toResult    the run's completion until the client's long poll delivered it
 */
interface OverheadSplit {
  toStartMs: number;
  workflowMs: number;
  dispatchMs: number;
  inActivityMs: number;
  toResultMs: number;
}

async function overheadSplit(workflowId: string, sample: Sample, from: number, to: number): Promise<OverheadSplit> {
  const events = (await p.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
  const scheduled = new Map<number, number>();
  const started = new Map<number, number>();
  let dispatchMs = 0;
  let activityMs = 0;
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, at(e));
    const start = e.activityTaskStartedEventAttributes;
    if (start) {
      started.set(id, at(e));
      dispatchMs += at(e) - scheduled.get(Number(start.scheduledEventId))!;
    }
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (done) activityMs += at(e) - started.get(Number(done.startedEventId))!;
  }
  const first = at(events[0]!);
  const last = at(events.at(-1)!);
  const toStartMs = first - from;
  const toResultMs = to - last;
  const inActivityMs = activityMs - sample.tasksMs - sample.agentMs - sample.ansibleMs;
  return { toStartMs, workflowMs: last - first - activityMs - dispatchMs, dispatchMs, inActivityMs, toResultMs };
}

// ---------------------------------------------------------------------------------------------
// The raw baseline: a plain script with the proxmox-api client, polling at a fixed short interval.

async function waitTask(px: Px, upid: string): Promise<void> {
  for (;;) {
    const status = (await px.nodes.$(upid.split(':')[1]!).tasks.$(upid).status.$get()) as { status: string; exitstatus?: string };
    if (status.status === 'stopped') {
      if (status.exitstatus !== 'OK') throw new Error(`task ${upid} ended with ${status.exitstatus}`);
      return;
    }
    await sleep(rawPollMs);
  }
}

async function provisionRaw(px: Px, name: string, keys: { provisioning: KeyPair; admin: KeyPair }): Promise<{ vmid: number; ip: string }> {
  const node = px.nodes.$('pve');
  const vmid = Number(await px.cluster.nextid.$get());
  await waitTask(px, (await node.qemu.$(TEMPLATE_VMID).clone.$post({ newid: vmid, name, full: true })) as string);
  const vm = node.qemu.$(vmid);
  await vm.config.$put({
    cores: VM.cores,
    memory: String(VM.memoryMiB),
    net0: 'virtio,bridge=vmbr0',
    ipconfig0: 'ip=dhcp',
    ciuser: CI_USER,
    sshkeys: encodeURIComponent(keys.provisioning.publicKey),
    agent: '1',
    tags: 'keelson',
  } as never);
  await waitTask(px, (await vm.resize.$put({ disk: 'scsi0', size: `${VM.diskGiB}G` })) as unknown as string);
  await waitTask(px, (await vm.status.start.$post()) as string);
  let ip: string | undefined;
  while (!ip) {
    const reply = (await vm.agent['network-get-interfaces'].$get().catch(() => undefined)) as
      | { result?: Array<{ name: string; 'ip-addresses'?: Array<{ 'ip-address': string; 'ip-address-type': string }> }> }
      | undefined;
    ip = reply?.result?.find((i) => i.name !== 'lo')?.['ip-addresses']?.find((a) => a['ip-address-type'] === 'ipv4')?.['ip-address'];
    if (!ip) await sleep(rawPollMs);
  }
  await ansiblePlaybook(ip, vmid, keys);
  return { vmid, ip };
}

/** The command and environment the runAnsible activity uses (activities/proxmox/ansible.ts). */
async function ansiblePlaybook(host: string, vmid: number, keys: { provisioning: KeyPair; admin: KeyPair }): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'keelson-bench-raw-'));
  try {
    const varsFile = join(work, 'vars.json');
    await writeFile(varsFile, JSON.stringify({ keelson_admin_user: ADMIN_USER, keelson_admin_ssh_keys: [keys.admin.publicKey], keelson_vmid: vmid }), { mode: 0o600 });
    await mkdir(join(work, 'cp'));
    await mkdir(join(work, 'tmp'));
    const args = [join(DEFAULT_ANSIBLE_DIR, 'base.yml'), '-i', `${host},`, '-u', CI_USER, '--private-key', keys.provisioning.file, '-e', `@${varsFile}`, '--become'];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? work,
      LANG: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
      ANSIBLE_ROLES_PATH: join(DEFAULT_ANSIBLE_DIR, 'roles'),
      ANSIBLE_LOCAL_TEMP: join(work, 'tmp'),
      ANSIBLE_CONTROL_PATH_DIR: join(work, 'cp'),
      ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=30s -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=15 -o ConnectTimeout=15',
    };
    const child = spawn('ansible-playbook', args, { cwd: DEFAULT_ANSIBLE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
    if (code !== 0) throw new Error(`ansible-playbook exited with ${code}:\n${output}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface KeyPair {
  file: string;
  publicKey: string;
}

async function makeKey(dir: string, name: string, type: string): Promise<KeyPair> {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `${name}@keelson-bench`, '-f', file]);
  return { file, publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

/** Stops and deletes a VM (not timed), so every run starts from the same cluster. */
async function removeVm(px: Px, vmid: number): Promise<void> {
  const vm = px.nodes.$('pve').qemu.$(vmid);
  await waitTask(px, (await vm.status.stop.$post()) as string);
  await waitTask(px, (await vm.$delete({ purge: true, 'destroy-unreferenced-disks': true })) as string);
}

// ---------------------------------------------------------------------------------------------

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const p = await startBenchPlatform();
let sim: Sim | undefined;
let observer: Observer | undefined;
const keyDir = await mkdtemp(join(tmpdir(), 'keelson-bench-keys-'));
const stopAll = async () => {
  await observer?.stop().catch(() => undefined);
  await sim?.stop().catch((err: Error) => log(`simulator: ${err.message}`));
  await p.close();
  await rm(shimDir, { recursive: true, force: true });
  await rm(keyDir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  log(`starting the Proxmox simulator (time scale ${timeScale}, Docker guests)…`);
  sim = await startSimulator(docker);
  const px = connect(sim);
  observer = observe(sim, connect(sim));
  const clusterId = await p.addProxmoxCluster({ url: sim.url, tokenId: TOKEN_ID, tokenSecret: sim.tokenSecret, caPem: sim.caPem, defaultTemplateVmid: TEMPLATE_VMID });
  // The API makes an ECDSA key per run for the first login; the raw side uses the same kind.
  const keys = { provisioning: await makeKey(keyDir, 'provisioning', 'ecdsa'), admin: await makeKey(keyDir, 'admin', 'ed25519') };

  const viaKeelson = async (name: string): Promise<Sample> => {
    const from = Date.now();
    const res = await fetch(`${p.baseUrl}/api/proxmox/guests`, {
      method: 'POST',
      headers: { ...p.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ clusterId, name, ...VM, templateVmid: TEMPLATE_VMID, sshKeys: [keys.admin.publicKey], user: ADMIN_USER }),
    });
    if (res.status !== 202) throw new Error(`POST /api/proxmox/guests: ${res.status} ${await res.text()}`);
    const apiMs = Date.now() - from;
    const { run: started } = (await res.json()) as { run: { workflowId: string } };
    const result = (await p.client.workflow.getHandle(started.workflowId).result()) as VmProvisionResult;
    const to = Date.now();
    const sample = await split(observer!, 'keelson', result.vmid, result.ip, from, to);
    await removeVm(px, result.vmid);
    return { ...sample, apiMs, overheadSplit: await overheadSplit(started.workflowId, sample, from, to) };
  };
  const viaRaw = async (name: string): Promise<Sample> => {
    const from = Date.now();
    const { vmid, ip } = await provisionRaw(px, name, keys);
    const sample = await split(observer!, 'raw', vmid, ip, from, Date.now());
    await removeVm(px, vmid);
    return sample;
  };
  const describe = (s: Sample) =>
    `${s.side.padEnd(7)} total ${ms(s.totalMs)} · tasks ${ms(s.tasksMs)} · agent ${ms(s.agentMs)} · ansible ${ms(s.ansibleMs)} · overhead ${ms(s.overheadMs)}`;

  for (let i = 0; i < warmup; i++) {
    log(`warm-up ${i + 1}/${warmup} (not measured)…`);
    log(`  ${describe(await viaKeelson(`warm-keelson-${i}`))}`);
    log(`  ${describe(await viaRaw(`warm-raw-${i}`))}`);
  }
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    log(`run ${i + 1}/${runs}…`);
    // The side going first alternates, so drift of the machine hits both alike.
    const order = i % 2 === 0 ? [viaKeelson, viaRaw] : [viaRaw, viaKeelson];
    for (const side of order) {
      const sample = await side(`${side === viaKeelson ? 'keelson' : 'raw'}-${i}`);
      log(`  ${describe(sample)}`);
      samples.push(sample);
    }
  }

  const of = (side: Sample['side']) => samples.filter((s) => s.side === side);
  const stat = (side: Sample['side'], key: 'totalMs' | 'tasksMs' | 'agentMs' | 'ansibleMs' | 'overheadMs' | 'apiMs') => {
    const sorted = of(side)
      .map((s) => s[key] ?? NaN)
      .sort((a, b) => a - b);
    return { p50: round(percentile(sorted, 50), 0)!, max: round(sorted.at(-1)!, 0)! };
  };
  const ratioStat = (side: Sample['side']) => {
    const sorted = of(side)
      .map((s) => s.overheadMs / s.totalMs)
      .sort((a, b) => a - b);
    return { p50: round(percentile(sorted, 50), 3)!, max: round(sorted.at(-1)!, 3)! };
  };
  const sideSummary = (side: Sample['side']) => ({
    totalMs: stat(side, 'totalMs'),
    proxmoxTasksMs: stat(side, 'tasksMs'),
    guestAgentMs: stat(side, 'agentMs'),
    guestAnsibleMs: stat(side, 'ansibleMs'),
    overheadMs: stat(side, 'overheadMs'),
    overheadRatio: ratioStat(side),
  });
  const splitOf = (key: keyof OverheadSplit) => {
    const sorted = of('keelson')
      .map((s) => s.overheadSplit![key])
      .sort((a, b) => a - b);
    return { p50: round(percentile(sorted, 50), 0)!, max: round(sorted.at(-1)!, 0)! };
  };
  const keelson = {
    ...sideSummary('keelson'),
    apiAnswerMs: stat('keelson', 'apiMs'),
    overheadSplitMs: { toStart: splitOf('toStartMs'), workflow: splitOf('workflowMs'), dispatch: splitOf('dispatchMs'), inActivity: splitOf('inActivityMs'), toResult: splitOf('toResultMs') },
  };
  const raw = sideSummary('raw');
  const summary = {
    schema: 1,
    keelson,
    raw,
    ratio: {
      total: round(keelson.totalMs.p50 / raw.totalMs.p50, 3),
      overhead: round(keelson.overheadMs.p50 / raw.overheadMs.p50, 2),
      overheadExtraMs: keelson.overheadMs.p50 - raw.overheadMs.p50,
    },
    runs: samples.map((s) => ({ side: s.side, vmid: s.vmid, totalMs: s.totalMs, tasksMs: s.tasksMs, agentMs: round(s.agentMs, 0), ansibleMs: round(s.ansibleMs, 0), overheadMs: round(s.overheadMs, 0), ...(s.apiMs !== undefined ? { apiMs: s.apiMs, overheadSplit: mapValues(s.overheadSplit!, (v) => round(v, 0)) } : {}), tasks: s.tasks })),
    params: { n: runs, warmup, timeScale, rawPollMs, observeEveryMs: OBSERVE_EVERY_MS, vm: VM, templateVmid: TEMPLATE_VMID },
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    notes: [
      ...p.notes,
      'Proxmox simulator in a child process (tools/proxmox-sim, Docker guests, real sshd and Ansible)',
      ...(observer.seenLate() > 0 ? [`${observer.seenLate()} task(s) had ended before the observer saw them: their end is an upper bound`] : []),
    ],
  };

  const row = (label: string, k: { p50: number; max: number }, r: { p50: number; max: number } | undefined, ratio?: string) =>
    `${label.padEnd(26)}${`${ms(k.p50)} / ${ms(k.max)}`.padStart(22)}${r ? `${ms(r.p50)} / ${ms(r.max)}`.padStart(22) : ''.padStart(22)}${(ratio ?? '').padStart(12)}`;
  const pct = (x: { p50: number; max: number }) => ({ p50: x.p50 * 100, max: x.max * 100 });
  console.log(
    [
      '',
      `VM provisioning on the Proxmox simulator (time scale ${timeScale}, Docker guests, real Ansible), ${runs} runs per side`,
      `${''.padEnd(26)}${'Keelson p50 / max'.padStart(22)}${'raw p50 / max'.padStart(22)}${'Keelson/raw'.padStart(12)}`,
      row('total (start → completed)', keelson.totalMs, raw.totalMs, `${summary.ratio.total}×`),
      row('  Proxmox tasks', keelson.proxmoxTasksMs, raw.proxmoxTasksMs),
      row('  guest: agent up', keelson.guestAgentMs, raw.guestAgentMs),
      row('  guest: Ansible', keelson.guestAnsibleMs, raw.guestAnsibleMs),
      row('  overhead', keelson.overheadMs, raw.overheadMs, `${summary.ratio.overhead}×`),
      `${'overhead / total'.padEnd(26)}${`${pct(keelson.overheadRatio).p50.toFixed(1)} % / ${pct(keelson.overheadRatio).max.toFixed(1)} %`.padStart(22)}${`${pct(raw.overheadRatio).p50.toFixed(1)} % / ${pct(raw.overheadRatio).max.toFixed(1)} %`.padStart(22)}`,
      row('API answer (POST → 202)', keelson.apiAnswerMs, undefined),
      'Keelson overhead by where it happens (p50 / max):',
      row('  POST → run started', keelson.overheadSplitMs.toStart, undefined),
      row('  workflow tasks', keelson.overheadSplitMs.workflow, undefined),
      row('  activity dispatch', keelson.overheadSplitMs.dispatch, undefined),
      row('  inside activities', keelson.overheadSplitMs.inActivity, undefined),
      row('  completed → result', keelson.overheadSplitMs.toResult, undefined),
      `Keelson adds ${summary.ratio.overheadExtraMs} ms (p50) of overhead per provisioning over the plain script (raw polls every ${rawPollMs} ms).`,
      '',
      JSON.stringify(summary),
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/provision-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(summary, null, 2));
} finally {
  await stopAll();
}

function mapValues<T extends object>(o: T, f: (v: number) => number | null) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as number)]));
}

function ms(v: number): string {
  return `${Math.round(v)} ms`;
}

async function readWhenThere(file: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
