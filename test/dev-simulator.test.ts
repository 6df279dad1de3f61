import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvisionedGuestSchema } from '../api/src/routes/proxmox/schema';
import {
  guestSubnet,
  registerSimulatorCluster,
  SIMULATOR_CLUSTER_NAME,
  simulatorArgs,
  simulatorUnavailable,
  type SimulatorHello,
} from '../scripts/dev-simulator';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from './platform';
import { logText, readRunStream, waitForRun } from './runs';

/**
 * What `npm run dev` gives a newcomer on Proxmox: the simulator started the way dev.ts starts it
 * (the CLI, Docker-backed guests), registered as the cluster `simulator`, and a VM provisioned on
 * it through the API to `running`, with its address and the Ansible output in the run's stream.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
let p: TestPlatform;
let operator: SignedIn;
let tenantId: string;
let sim: ChildProcess;
let hello: SimulatorHello;
let stateDir: string;
const namespace = `devtest-${randomBytes(3).toString('hex')}`;
const network = `keelson-pve-${namespace}`;

beforeAll(async () => {
  p = await createTestPlatform();
  tenantId = (await p.createTenant()).id;
  operator = await p.signIn({ tenantId, role: 'operator' });
  await p.startCoreWorker();
  expect(await simulatorUnavailable(p.docker)).toBeUndefined();
  stateDir = await mkdtemp(join(tmpdir(), 'keelson-dev-sim-'));
  const subnet = await guestSubnet(p.docker, network);
  sim = spawn(process.execPath, ['--import', 'tsx', ...simulatorArgs({ stateDir, port: 0, network, subnet, namespace, timeScale: 0.05 })], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  hello = await new Promise<SimulatorHello>((resolve, reject) => {
    createInterface({ input: sim.stdout! }).once('line', (line) => resolve(JSON.parse(line) as SimulatorHello));
    sim.once('exit', (code) => reject(new Error(`the simulator exited (code ${code})`)));
  });
}, 120_000);

afterAll(async () => {
  sim?.kill('SIGTERM');
  const left = await p.docker.listContainers({ all: true, filters: { label: [`io.keelson.pve-guest.namespace=${namespace}`] } });
  for (const c of left) await p.docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  await p.docker.getNetwork(network).remove().catch(() => undefined);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  await p?.close();
});

describe('the development simulator', () => {
  it('is registered once as the cluster "simulator", and again after a restart brings a new port', async () => {
    const first = await registerSimulatorCluster(p.db, TEST_KEYS, tenantId, hello);
    const again = await registerSimulatorCluster(p.db, TEST_KEYS, tenantId, { ...hello, url: hello.url.replace(/:\d+$/, ':1') });
    expect(again.id).toBe(first.id);
    await registerSimulatorCluster(p.db, TEST_KEYS, tenantId, hello);
    const res = await p.request('/api/proxmox/clusters', { headers: operator.headers });
    const { items } = (await res.json()) as { items: Array<{ id: string; name: string; url: string; defaultTemplateVmid: number }> };
    expect(items).toEqual([expect.objectContaining({ id: first.id, name: SIMULATOR_CLUSTER_NAME, url: hello.url, defaultTemplateVmid: 9000 })]);
  });

  it('provisions a VM to running with its address, streaming the Ansible output', { timeout: 240_000 }, async () => {
    const [{ id: clusterId }] = ((await (await p.request('/api/proxmox/clusters', { headers: operator.headers })).json()) as { items: Array<{ id: string }> }).items as [{ id: string }];
    const keyFile = join(stateDir, 'newcomer');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'newcomer@keelson-test', '-f', keyFile]);
    const sshKeys = [(await readFile(`${keyFile}.pub`, 'utf8')).trim()];
    const res = await p.request('/api/proxmox/guests', {
      headers: operator.headers,
      body: { kind: 'qemu', clusterId, name: 'first-vm', cores: 1, memoryMiB: 512, user: 'newcomer', sshKeys, ipConfig: { ip: 'dhcp' } },
    });
    expect(res.status).toBe(202);
    const { guest, run } = ProvisionedGuestSchema.parse(await res.json());
    const events = await readRunStream(p, run.workflowId, operator.headers, { timeoutMs: 200_000 });
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    expect(logText(events)).toMatch(/PLAY RECAP/);

    const detail = (await (await p.request(`/api/proxmox/guests/${guest.id}`, { headers: operator.headers })).json()) as { state: string; ip: string | null };
    expect(detail.state).toBe('running');
    expect(detail.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});
