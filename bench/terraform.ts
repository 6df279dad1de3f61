/**
 * `npm run bench:terraform`: plan and apply of infra/terraform/proxmox-vm through Keelson (a
 * stack's run: POST …/runs → awaiting approval is the plan; POST …/approval → applied is the
 * apply) next to the same tofu commands run by hand on the same kind of stack (the same binary,
 * provider, pg backend database and simulator), in one run, with the ratio. Keelson runs each
 * phase in a fresh working directory, so the hand side runs what Keelson runs:
 *   plan    tofu init, tofu plan -out, tofu show -json
 *   apply   tofu init, tofu apply <plan>, tofu output -json
 * Progress on stderr; a table and, last, a one-line JSON summary on stdout (also in bench/results/).
 */
import { applyArgs, initArgs, outputJsonArgs, planArgs, prepareWorkspace, runTofu, showJsonArgs, type TofuWorkspace } from '@keelson/activities/terraform/tofu';
import { startTestSim, TOKEN_ID, TOKEN_SECRET } from '@keelson/proxmox-sim/testing';
import { terraformBackendUrl } from '@keelson/workers/workers';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROXMOX_VM_MODULE, simTofuConfig, tofuToolchain } from '../test/tofu-toolchain';
import { startBenchPlatform } from './platform';
import { round, summarize } from './stats';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '3' },
    'time-scale': { type: 'string', default: '0.1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench:terraform -- [--n 3 (stacks per side)] [--time-scale 0.1 (the simulator\'s)]');
  process.exit(0);
}
const n = Number(values.n);
const timeScale = Number(values['time-scale']);
const log = (msg: string) => process.stderr.write(`bench │ ${msg}\n`);
Runtime.install({ logger: new DefaultLogger('WARN') });
/** How often the Keelson side looks at the run's state. */
const POLL_MS = 50;

const toolchain = await tofuToolchain();
const sim = await startTestSim({ timeScale });
const platform = await startBenchPlatform({
  scopes: ['terraform.read', 'terraform.manage', 'workflow.signal'],
  terraform: { binary: toolchain.binary, cliConfigFile: toolchain.cliConfigFile, workDir: join(toolchain.dir, 'work') },
});

async function api<T>(method: string, path: string, body?: unknown, expected = 200): Promise<T> {
  const res = await fetch(`${platform.baseUrl}/api${path}`, { method, headers: { ...platform.auth, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status !== expected) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

type Run = { id: string; workflowId: string; state: string; error: string | null };
async function until(runId: string, states: string[]): Promise<Run> {
  for (;;) {
    const run = await api<Run>('GET', `/terraform/runs/${runId}`);
    if (states.includes(run.state)) return run;
    if (['failed', 'canceled', 'rejected'].includes(run.state)) throw new Error(`run ${runId} ended ${run.state}: ${run.error}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const samples = { keelson: { plan: [] as number[], apply: [] as number[] }, hand: { plan: [] as number[], apply: [] as number[] } };
try {
  const clusterId = await platform.addProxmoxCluster({ url: sim.url, tokenId: TOKEN_ID, tokenSecret: TOKEN_SECRET, caPem: sim.caPem });
  const config = await simTofuConfig(toolchain, sim, terraformBackendUrl(platform.dbUrl));

  // Alternating sides, so load on the shared machine falls on both alike.
  for (let i = 0; i < n; i++) {
    const stack = await api<{ id: string }>('POST', '/terraform/stacks', { name: `bench-${i}`, modulePath: 'proxmox-vm', proxmoxClusterId: clusterId, variables: { name: { value: `bench-k-${i}` }, agent_timeout: { value: '2m' } } }, 201);
    let t = performance.now();
    const run = await api<Run>('POST', `/terraform/stacks/${stack.id}/runs`, { kind: 'apply' }, 201);
    await until(run.id, ['awaiting-approval']);
    samples.keelson.plan.push(performance.now() - t);
    t = performance.now();
    await api('POST', `/runs/${encodeURIComponent(run.workflowId)}/approval`, { decision: 'approve' });
    await until(run.id, ['applied']);
    samples.keelson.apply.push(performance.now() - t);

    const ws: TofuWorkspace = { dir: join(toolchain.dir, `hand-${i}`), schema: `bench_hand_${i}`, variables: { name: `bench-h-${i}`, agent_timeout: '2m' }, secrets: [] };
    await prepareWorkspace(PROXMOX_VM_MODULE, ws.dir);
    const tofu = async (args: string[]) => {
      const result = await runTofu(config, ws, args);
      if (result.code === 1) throw new Error(`tofu ${args[0]}: ${result.stderr}`);
    };
    t = performance.now();
    await tofu(initArgs());
    await tofu(planArgs('plan.tfplan'));
    await tofu(showJsonArgs('plan.tfplan'));
    samples.hand.plan.push(performance.now() - t);
    t = performance.now();
    await tofu(initArgs());
    await tofu(applyArgs('plan.tfplan'));
    await tofu(outputJsonArgs());
    samples.hand.apply.push(performance.now() - t);
    log(`stack ${i + 1}/${n}: Keelson plan ${Math.round(samples.keelson.plan[i]!)} ms, apply ${Math.round(samples.keelson.apply[i]!)} ms; by hand plan ${Math.round(samples.hand.plan[i]!)} ms, apply ${Math.round(samples.hand.apply[i]!)} ms`);
  }

  const p50 = (xs: number[]) => summarize(xs).p50;
  const summary = {
    bench: 'terraform',
    stacks: n,
    timeScale,
    keelson: { planP50Ms: round(p50(samples.keelson.plan), 0), applyP50Ms: round(p50(samples.keelson.apply), 0) },
    hand: { planP50Ms: round(p50(samples.hand.plan), 0), applyP50Ms: round(p50(samples.hand.apply), 0) },
    ratio: { plan: round(p50(samples.keelson.plan) / p50(samples.hand.plan)), apply: round(p50(samples.keelson.apply) / p50(samples.hand.apply)) },
    samplesMs: { keelson: samples.keelson, hand: samples.hand },
  };
  const row = (label: string, k: number, h: number) => `${label.padEnd(8)}${`${Math.round(k)} ms`.padStart(12)}${`${Math.round(h)} ms`.padStart(12)}${`${(k / h).toFixed(2)}×`.padStart(9)}`;
  console.log(
    [
      `OpenTofu plan and apply of proxmox-vm, ${n} stacks per side, simulator time scale ${timeScale} (p50)`,
      `${''.padEnd(8)}${'Keelson'.padStart(12)}${'by hand'.padStart(12)}${'ratio'.padStart(9)}`,
      row('plan', p50(samples.keelson.plan), p50(samples.hand.plan)),
      row('apply', p50(samples.keelson.apply), p50(samples.hand.apply)),
      '',
      JSON.stringify({ ...summary, samplesMs: undefined }),
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/terraform-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(summary, null, 2));
} finally {
  await platform.close();
  await sim.dispose();
  await rm(toolchain.dir, { recursive: true, force: true });
}
