import { randomUUID } from 'node:crypto';
import { startProxmoxHarness, TEMPLATE_VMID, TOKEN_ID, type ProxmoxHarness } from './proxmox-harness';

/**
 * For suites that drive Proxmox through the API or the web app in front of it, where the
 * platform's own core worker runs the workflows (it reads clusters from Postgres): the
 * simulator with Docker-backed guests, key pairs, and the settings a cluster is added with.
 */

/**
 * The Proxmox harness without its own worker: the caller's core worker runs everything. Its
 * simulator, guest network (`net`) and keys are what such suites use; `close()` removes the
 * guest containers and network whatever the test left.
 */
export async function startProxmoxForCoreWorker(name: string): Promise<ProxmoxHarness> {
  const h = await startProxmoxHarness(name);
  await h.stopWorker();
  return h;
}

/** A cluster body that passes the connection check against the harness's simulator. */
export function clusterBody(h: Pick<ProxmoxHarness, 'sim'>, overrides: Record<string, unknown> = {}) {
  return {
    name: `pve-${randomUUID().slice(0, 6)}`,
    url: h.sim.url,
    tokenId: TOKEN_ID,
    tokenSecret: h.sim.tokens[0]!.secret,
    caPem: h.sim.caPem,
    fingerprint: h.sim.fingerprint,
    defaultTemplateVmid: TEMPLATE_VMID,
    ...overrides,
  };
}
