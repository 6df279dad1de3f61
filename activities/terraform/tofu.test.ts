import { createScratchDatabase, dropScratchDatabases } from '@keelson/db/scratch-databases';
import { startTestSim, TOKEN_ID, TOKEN_SECRET, type TestSim } from '@keelson/proxmox-sim/testing';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_DATABASE_URL, testDbPrefix } from '../../test/config';
import { PROXMOX_VM_MODULE, tofuToolchain, type TofuToolchain } from '../../test/terraform-harness';
import { planDiff } from './plan-diff';
import { applyArgs, initArgs, outputJsonArgs, planArgs, prepareWorkspace, runTofu, showJsonArgs, type TofuConfig, type TofuWorkspace } from './tofu';

// The real tofu binary runs infra/terraform/proxmox-vm (written for bpg/proxmox) against the
// Proxmox simulator through the simulator's provider, with state in Postgres (pg backend).

const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
let sim: TestSim;
let toolchain: TofuToolchain;
let config: TofuConfig;
let workspace: TofuWorkspace;
let databaseUrl: string;
const dbName = `${testDbPrefix(process.pid)}tf_${randomBytes(3).toString('hex')}`;

async function tofu(args: string[]) {
  const result = await runTofu(config, workspace, args);
  if (result.code === 1) throw new Error(`tofu ${args[0]} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

async function plan(variables: Record<string, string>, destroy = false) {
  workspace.variables = { ...workspace.variables, ...variables };
  const planned = await tofu(planArgs('plan.tfplan', destroy));
  const shown = await tofu(showJsonArgs('plan.tfplan'));
  const json = JSON.parse(shown.stdout);
  return { planned, json, diff: planDiff(json, workspace.secrets) };
}

const guests = async () => (await sim.control.state()).guests.filter((g: { vmid: number }) => g.vmid !== 9000) as Array<{ vmid: number; status: string; config: Record<string, unknown> }>;

beforeAll(async () => {
  toolchain = await tofuToolchain();
  sim = await startTestSim({ timeScale: 0.01 });
  await writeFile(join(toolchain.dir, 'ca.pem'), sim.caPem);
  databaseUrl = await createScratchDatabase(ADMIN_DATABASE_URL, dbName);
  config = {
    binary: toolchain.binary,
    backendUrl: `${databaseUrl}?sslmode=disable`,
    cliConfigFile: toolchain.cliConfigFile,
    env: { PROXMOX_VE_ENDPOINT: sim.url, PROXMOX_VE_API_TOKEN: `${TOKEN_ID}=${TOKEN_SECRET}`, SSL_CERT_FILE: join(toolchain.dir, 'ca.pem') },
  };
  workspace = { dir: join(toolchain.dir, 'stack'), schema: 'stack_web', variables: { name: 'tf-web', agent_timeout: '2m', password: PASSWORD }, secrets: [PASSWORD] };
  await prepareWorkspace(PROXMOX_VM_MODULE, workspace.dir);
}, 900_000);

afterAll(async () => {
  await sim?.dispose();
  await dropScratchDatabases(ADMIN_DATABASE_URL, 't', (name) => name === dbName);
  if (toolchain) await rm(toolchain.dir, { recursive: true, force: true });
});

describe('infra/terraform/proxmox-vm through the real tofu', () => {
  it('creates, changes and destroys a VM on the simulator with state in Postgres', async () => {
    const init = await tofu(initArgs());
    expect(init.stdout).toMatch(/Successfully configured the backend "pg"/);

    const created = await plan({});
    expect(created.planned.code).toBe(2);
    expect(created.diff.summary).toEqual({ create: 1, update: 0, replace: 0, delete: 0 });
    const vm = created.diff.resources[0]!;
    expect(vm).toMatchObject({ address: 'proxmox_virtual_environment_vm.this', action: 'create' });
    expect(vm.attributes).toContainEqual({ path: 'cpu[0].cores', after: '2' });
    expect(vm.attributes).toContainEqual({ path: 'initialization[0].user_account[0].password', after: '(sensitive value)', sensitive: true });
    // The diff is tofu's own plan: the same resources with the same actions.
    expect(created.json.resource_changes.map((rc: { address: string; change: { actions: string[] } }) => [rc.address, rc.change.actions])).toEqual([['proxmox_virtual_environment_vm.this', ['create']]]);
    expect(created.planned.stdout).not.toContain(PASSWORD);
    expect(JSON.stringify(created.diff)).not.toContain(PASSWORD);

    await tofu(applyArgs('plan.tfplan'));
    const [guest] = await guests();
    expect(guest).toMatchObject({ status: 'running', config: { name: 'tf-web', cores: 2, ciuser: 'debian' } });
    const outputs = JSON.parse((await tofu(outputJsonArgs())).stdout);
    expect(outputs.vm_id.value).toBe(guest!.vmid);
    expect(outputs.ipv4_address.value).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ name: string; data: string }>('select name, data from stack_web.states');
      expect(rows.map((r) => r.name)).toEqual(['default']);
      expect(JSON.parse(rows[0]!.data).resources[0].type).toBe('proxmox_virtual_environment_vm');
    } finally {
      await db.end();
    }

    const unchanged = await plan({});
    expect(unchanged.planned.code).toBe(0);
    expect(unchanged.diff.empty).toBe(true);

    const bigger = await plan({ cores: '4', disk_gib: '12' });
    expect(bigger.diff.resources).toEqual([
      expect.objectContaining({
        action: 'update',
        attributes: [
          { path: 'cpu[0].cores', before: '2', after: '4' },
          { path: 'disk[0].size', before: '8', after: '12' },
        ],
      }),
    ]);
    await tofu(applyArgs('plan.tfplan'));
    expect((await guests())[0]!.config).toMatchObject({ cores: 4, scsi0: expect.stringMatching(/size=12G/) });

    const destroy = await plan({}, true);
    expect(destroy.diff.summary).toEqual({ create: 0, update: 0, replace: 0, delete: 1 });
    await tofu(applyArgs('plan.tfplan'));
    expect(await guests()).toEqual([]);
  });
});
