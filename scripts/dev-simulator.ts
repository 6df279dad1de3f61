/**
 * The Proxmox cluster `npm run dev` gives a newcomer: Keelson's Proxmox API simulator
 * (tools/proxmox-sim) with Docker-backed Debian guests, registered in the seeded organization as
 * the cluster `simulator` so that a VM can be provisioned from the UI at once. It is a stand-in,
 * named so that nobody mistakes it for hardware; KEELSON_PROXMOX_SIMULATOR=off leaves it out.
 */
import { encryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { proxmoxClusters } from '@keelson/db/schema';
import { pickFreeSubnet } from '@keelson/proxmox-sim/guests/docker';
import { sql } from 'drizzle-orm';
import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';

export const SIMULATOR_CLUSTER_NAME = 'simulator';
export const SIMULATOR_TOKEN_ID = 'root@pam!keelson';
export const SIMULATOR_GUEST_IMAGE = 'keelson/pve-guest:bookworm';
/** The simulator's default template and ostemplate (tools/proxmox-sim/README.md). */
const TEMPLATE_VMID = 9000;
const OSTEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';
const STORAGE = 'local-lvm';

/** The JSON line the simulator's CLI prints once it serves. */
export interface SimulatorHello {
  url: string;
  caFile: string;
  fingerprint: string;
  tokens: Array<{ tokenid: string; secret: string }>;
}

export interface SimulatorOptions {
  stateDir: string;
  port: number;
  /** The Docker network the guests join (kept across restarts with its subnet). */
  network: string;
  subnet: string;
  /** Labels this simulator's guest containers apart from tests' and benches'. */
  namespace: string;
  /** Every simulated duration × this (1 = Proxmox's own pace). */
  timeScale: number;
}

/** Arguments for `tsx tools/proxmox-sim/src/cli.ts`. */
export function simulatorArgs(o: SimulatorOptions): string[] {
  return [
    'tools/proxmox-sim/src/cli.ts',
    ...['--state-dir', o.stateDir, '--port', String(o.port), '--time-scale', String(o.timeScale)],
    ...['--guests', 'docker', '--token', SIMULATOR_TOKEN_ID],
    ...['--docker-network', o.network, '--docker-subnet', o.subnet, '--docker-namespace', o.namespace],
  ];
}

/** The guest network's subnet: the one it already has, or a /24 no other network uses. */
export async function guestSubnet(docker: Docker, network: string): Promise<string> {
  const existing = await docker
    .getNetwork(network)
    .inspect()
    .catch(() => undefined);
  const subnet = (existing as { IPAM?: { Config?: Array<{ Subnet?: string }> } } | undefined)?.IPAM?.Config?.[0]?.Subnet;
  return subnet ?? `${await pickFreeSubnet(docker)}.0/24`;
}

/** Why the simulator cannot back VMs with containers here, or undefined when it can. */
export async function simulatorUnavailable(docker: Docker): Promise<string | undefined> {
  const image = await docker
    .getImage(SIMULATOR_GUEST_IMAGE)
    .inspect()
    .catch(() => undefined);
  return image ? undefined : `the guest image ${SIMULATOR_GUEST_IMAGE} is missing (scripts/docker.sh ensure builds it)`;
}

/**
 * Records the simulator as the cluster `simulator` of the organization, or brings the record up
 * to date (its port, CA or token secret may have changed since the last start).
 */
export async function registerSimulatorCluster(db: Database, keys: KeyRing, tenantId: string, hello: SimulatorHello): Promise<{ id: string }> {
  const token = hello.tokens.find((t) => t.tokenid === SIMULATOR_TOKEN_ID);
  if (!token) throw new Error(`the simulator did not report the token ${SIMULATOR_TOKEN_ID}`);
  const connection = {
    url: hello.url,
    tokenId: SIMULATOR_TOKEN_ID,
    tokenSecretSealed: encryptSecret(keys, token.secret),
    caPem: readFileSync(hello.caFile, 'utf8'),
    fingerprint: hello.fingerprint,
  };
  const [row] = await db
    .insert(proxmoxClusters)
    .values({ tenantId, name: SIMULATOR_CLUSTER_NAME, ...connection, defaultTemplateVmid: TEMPLATE_VMID, defaultStorage: STORAGE, defaultOstemplate: OSTEMPLATE })
    .onConflictDoUpdate({ target: [proxmoxClusters.tenantId, proxmoxClusters.name], set: { ...connection, updatedAt: sql`now()` } })
    .returning({ id: proxmoxClusters.id });
  return { id: row!.id };
}
