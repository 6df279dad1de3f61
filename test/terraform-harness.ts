import { encryptSecret } from '@keelson/common/codec';
import { keelsonCodec } from '@keelson/common/temporal';
import { createPostgresDataKeys } from '@keelson/db';
import { proxmoxClusters } from '@keelson/db/schema';
import { TOKEN_ID, TOKEN_SECRET, type TestSim } from '@keelson/proxmox-sim/testing';
import type { Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { TEST_KEYS, type SignedIn, type TestPlatform } from './platform';

export { PROXMOX_VM_MODULE, simTofuConfig, tofuToolchain, type TofuToolchain } from './tofu-toolchain';

/** A run as GET /api/terraform/runs/{id} answers it (the parts tests look at). */
export interface StackRun {
  id: string;
  workflowId: string;
  state: string;
  plans: number;
  diff: { summary: Record<string, number>; resources: Array<{ address: string; action: string; attributes: Array<{ path: string; before?: string; after?: string; sensitive?: boolean }> }> } | null;
  approvedBy: string | null;
  outputs: Record<string, { value: unknown; sensitive: boolean }> | null;
  error: string | null;
}

/** Registers the simulator as a Proxmox cluster of the organization; returns its id. */
export async function addSimCluster(p: TestPlatform, tenantId: string, sim: TestSim): Promise<string> {
  const [cluster] = await p.db
    .insert(proxmoxClusters)
    .values({ tenantId, name: `sim-${randomBytes(3).toString('hex')}`, url: sim.url, tokenId: TOKEN_ID, tokenSecretSealed: encryptSecret(TEST_KEYS, TOKEN_SECRET), caPem: sim.caPem })
    .returning({ id: proxmoxClusters.id });
  return cluster!.id;
}

/** The simulator's VMs besides the template. */
export const simVms = async (sim: TestSim) =>
  (await sim.control.state()).guests.filter((g) => !g.template) as Array<{ vmid: number; name?: string; status: string; lock?: string; config: Record<string, unknown> }>;

/** Stacks and runs through the API, as `who`. */
export function stacksApi(p: TestPlatform, who: SignedIn) {
  const json = async <T>(res: Response) => (await res.json()) as T;
  async function expectStatus(res: Response, status: number): Promise<Response> {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${await res.text()}`);
    return res;
  }
  const api = {
    async createStack(body: Record<string, unknown>): Promise<{ id: string; name: string; backendSchema: string; variables: unknown[] }> {
      return json(await expectStatus(await p.request('/api/terraform/stacks', { headers: who.headers, body }), 201));
    },
    async startRun(stackId: string, body: Record<string, unknown> = { kind: 'apply' }): Promise<StackRun> {
      return json(await expectStatus(await p.request(`/api/terraform/stacks/${stackId}/runs`, { headers: who.headers, body }), 201));
    },
    async run(runId: string): Promise<StackRun> {
      return json(await expectStatus(await p.request(`/api/terraform/runs/${runId}`, { headers: who.headers }), 200));
    },
    /** Polls the run until `until` holds (two minutes at most). */
    async runState(runId: string, until: (run: StackRun) => boolean, timeoutMs = 120_000): Promise<StackRun> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = await api.run(runId);
        if (until(run)) return run;
        if (Date.now() > deadline) throw new Error(`run ${runId} never reached the expected state (last: ${run.state})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async approve(run: StackRun, decision: 'approve' | 'reject' = 'approve'): Promise<void> {
      await expectStatus(await p.request(`/api/runs/${encodeURIComponent(run.workflowId)}/approval`, { headers: who.headers, body: { decision, comment: 'looks right' } }), 200);
    },
  };
  return api;
}

/**
 * Every payload of a run's history, opened with the organization's keys, as text: what anyone
 * with access to Temporal (its UI, its database) could read once past the codec.
 */
export async function openedHistory(p: TestPlatform, workflowId: string): Promise<{ payloads: number; text: string }> {
  const codec = keelsonCodec(TEST_KEYS, createPostgresDataKeys(p.db, TEST_KEYS));
  const history = await p.temporal.workflow.getHandle(workflowId).fetchHistory();
  const payloads: Payload[] = [];
  const walk = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    if ('metadata' in value && 'data' in value && (value as Payload).metadata) payloads.push(value as Payload);
    for (const item of Object.values(value)) walk(item);
  };
  walk(history.events);
  const opened = await codec.decode(payloads);
  return { payloads: payloads.length, text: opened.map((payload) => Buffer.from(payload.data ?? []).toString('utf8')).join('\n') };
}
